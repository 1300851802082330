#!/usr/bin/env node
/** The `tessera-onnx` bin: prints one JSON report (or the usage), exits with its code. */
import { runCommand, USAGE } from "./commands";

const finish = (text: string, code: number, stream: NodeJS.WriteStream = process.stdout) => stream.write(`${text}\n`, () => process.exit(code));

runCommand(process.argv.slice(2)).then(
  (r) => finish(r.report.usage ? USAGE : JSON.stringify(r.report), r.code),
  (e: Error) => finish(e.name === "TesseraError" ? e.message : (e.stack ?? String(e)), 2, process.stderr),
);

#!/usr/bin/env node
/** The `tessera` bin: prints one JSON object per command (or the usage), exits with its code. */
import { runCommand, USAGE } from "./commands";

// Exit only once stdout has drained (a pipe may still hold the report); webgpu keeps handles open.
const finish = (text: string, code: number, stream: NodeJS.WriteStream = process.stdout) => stream.write(`${text}\n`, () => process.exit(code));

runCommand(process.argv.slice(2)).then(
  (r) => finish(r.report.usage ? USAGE : JSON.stringify(r.report), r.code),
  (e: Error) => finish(e.name === "TesseraError" ? e.message : (e.stack ?? String(e)), 2, process.stderr),
);

#!/usr/bin/env node
// The `tessera-onnx` bin. A committed shim, so package managers can link it at install time, before
// the package is built; it runs the bundled CLI (dist/cli.js).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("tessera-onnx: the CLI is not built yet (dist/cli.js is missing). In the repository run `npm run tessera -- export DIR OUT.onnx`, which builds it first.\n");
  process.exit(2);
}
await import(cli.href);

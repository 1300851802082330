// `npm run tessera -- <command> [args]`: install, build @tessera/models (and what it needs), then
// run its `tessera` CLI (check / generate / info) with the given arguments. Exits with its code.
// `export` (ONNX) is @tessera/onnx's `tessera-onnx export`: that package is built and run instead
// (it depends on @tessera/models, not the other way round).
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

const args = process.argv.slice(2);
const [pkg, folder] = args[0] === "export" ? ["@tessera/onnx", "onnx"] : ["@tessera/models", "models"];
install();
step("build", pnpm(["exec", "turbo", "run", "build", `--filter=${pkg}...`, "--output-logs=errors-only"]));
process.exit(sh("node", [join(root, "packages", folder, "dist", "cli.js"), ...args]));

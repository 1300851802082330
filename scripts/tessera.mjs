// `npm run tessera -- <command> [args]`: install, build @tessera/models (and what it needs), then
// run its `tessera` CLI (check / generate / info) with the given arguments. Exits with its code.
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

install();
step("build", pnpm(["exec", "turbo", "run", "build", "--filter=@tessera/models...", "--output-logs=errors-only"]));
process.exit(sh("node", [join(root, "packages", "models", "dist", "cli.js"), ...process.argv.slice(2)]));

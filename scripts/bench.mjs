// `npm run bench -- [suite...] [--json FILE] [--backend B] [--quick]`: install, build the bench
// app and what it depends on, then run it.
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

install();
step("build", pnpm(["exec", "turbo", "run", "build", "--filter=@tessera/bench...", "--output-logs=errors-only"]));
process.exit(sh("node", [join(root, "apps", "bench", "dist", "cli.js"), ...process.argv.slice(2)]));

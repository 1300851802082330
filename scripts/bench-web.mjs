// `npm run bench:web [-- --port N]`: install, build the bench app and what it depends on, then
// serve the bench web page on 127.0.0.1 (prints the URL; Ctrl-C stops it).
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

install();
step("build", pnpm(["exec", "turbo", "run", "build", "--filter=@tessera/bench...", "--output-logs=errors-only"]));
process.exit(sh("node", [join(root, "apps", "bench", "dist", "web.js"), ...process.argv.slice(2)]));

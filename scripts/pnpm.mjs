// Runs the pinned pnpm (package.json "packageManager") via npx: node scripts/pnpm.mjs <args...>
import { pnpm } from "./run.mjs";

process.exit(pnpm(process.argv.slice(2)));

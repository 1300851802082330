// Runs the pinned pnpm (the root package.json's packageManager) through npx, so a machine
// with only Node and npm needs nothing else. Usage: node scripts/pnpm.mjs <pnpm args...>
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pm = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager; // "pnpm@x.y.z"

export function pnpm(args, opts = {}) {
  const r = spawnSync("npx", ["-y", pm, ...args], { cwd: root, stdio: "inherit", env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", ...opts.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(pnpm(process.argv.slice(2)));

// `npm run bench -- [suite...] [--json FILE] [--backend B] [--quick]`: install, build the bench
// app and what it depends on, then run it.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { install, pnpm, root, sh, step } from "./run.mjs";

install();
step("build", pnpm(["exec", "turbo", "run", "build", "--filter=@tessera/bench...", "--output-logs=errors-only"]));
// Relaxed SIMD (fused multiply-add: the cpu kernels' relaxed builds) is on by default from Node 22
// and behind a V8 flag in Node 20: turn it on where the flag exists, so the figures are those of
// current runtimes (TESSERA_WASM_RELAXED_SIMD=0 keeps the SIMD128 builds; the bench prints which ran).
const RELAXED = "--experimental-wasm-relaxed-simd";
const flagged = spawnSync(process.execPath, [RELAXED, "-e", "0"], { stdio: "ignore" }).status === 0 ? [RELAXED] : [];
process.exit(sh(process.execPath, [...flagged, join(root, "apps", "bench", "dist", "cli.js"), ...process.argv.slice(2)]));

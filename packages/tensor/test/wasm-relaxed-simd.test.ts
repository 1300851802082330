/**
 * The relaxed-SIMD path in CI: Node 20 has relaxed SIMD only behind --experimental-wasm-relaxed-simd,
 * so wasm-features.test.ts runs again in a Node started with that flag (relaxed SIMD detected and
 * chosen) and with the flag plus TESSERA_WASM_RELAXED_SIMD=0 (the SIMD128 fallback forced), and
 * cpu-simd.test.ts (the GEMM/GEMV products against the TypeScript reference) with the flag.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");

const FLAG = "--experimental-wasm-relaxed-simd";

/** Runs a test file (wasm-features.test.ts by default) in a Node (and vitest workers) started with FLAG. */
function runFlagged(env: Record<string, string>, file = "test/wasm-features.test.ts"): string {
  return execFileSync(process.execPath, [FLAG, vitest, "run", `--execArgv=${FLAG}`, file], {
    cwd: pkg,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
  });
}

it("node --experimental-wasm-relaxed-simd: relaxed SIMD detected and chosen", () => {
  expect(runFlagged({ TESSERA_EXPECT_RELAXED_SIMD: "1" })).toMatch(/Tests\s+3 passed/);
}, 120_000);

it("node --experimental-wasm-relaxed-simd: the products' relaxed build loads and cpu-simd.test.ts passes with it", () => {
  const out = runFlagged({ TESSERA_EXPECT_RELAXED_SIMD: "1" }, "test/cpu-simd.test.ts");
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

it("... and TESSERA_WASM_RELAXED_SIMD=0 forces the SIMD128 builds", () => {
  expect(runFlagged({ TESSERA_EXPECT_RELAXED_SIMD: "0", TESSERA_WASM_RELAXED_SIMD: "0" })).toMatch(/Tests\s+3 passed/);
}, 120_000);

/**
 * The relaxed-SIMD path in CI: Node 20 has relaxed SIMD only behind --experimental-wasm-relaxed-simd,
 * so wasm-features.test.ts runs again in a Node started with that flag (relaxed SIMD detected and
 * chosen) and with the flag plus TESSERA_WASM_RELAXED_SIMD=0 (the SIMD128 fallback forced), and
 * cpu-simd.test.ts (the GEMM/GEMV products against the TypeScript reference) with the flag.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { runTestFileWithRelaxedSimd } from "../src/testing";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Runs a test file (wasm-features.test.ts by default) under --experimental-wasm-relaxed-simd. */
const runFlagged = (env: Record<string, string>, file = "test/wasm-features.test.ts") => runTestFileWithRelaxedSimd(pkg, file, env);

it("node --experimental-wasm-relaxed-simd: relaxed SIMD detected and chosen", async () => {
  expect(await runFlagged({ TESSERA_EXPECT_RELAXED_SIMD: "1" })).toMatch(/Tests\s+3 passed/);
}, 120_000);

it("node --experimental-wasm-relaxed-simd: the products' relaxed build loads and cpu-simd.test.ts passes with it", async () => {
  const out = await runFlagged({ TESSERA_EXPECT_RELAXED_SIMD: "1" }, "test/cpu-simd.test.ts");
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

it("... and TESSERA_WASM_RELAXED_SIMD=0 forces the SIMD128 builds", async () => {
  expect(await runFlagged({ TESSERA_EXPECT_RELAXED_SIMD: "0", TESSERA_WASM_RELAXED_SIMD: "0" })).toMatch(/Tests\s+3 passed/);
}, 120_000);

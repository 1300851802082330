/**
 * The relaxed-SIMD build of the fused quantized GEMV kernels (fused multiply-adds in the dot
 * products) in CI: Node 20 has relaxed SIMD only behind --experimental-wasm-relaxed-simd, so
 * linear.test.ts runs again in a Node (and vitest workers) started with that flag, where the
 * relaxed build must load (TESSERA_EXPECT_RELAXED_SIMD=1) and meet the same bounds as the SIMD128
 * build.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTestFileWithRelaxedSimd } from "@tessera/tensor/testing";
import { expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

it("node --experimental-wasm-relaxed-simd: the relaxed build loads and linear.test.ts passes with it", async () => {
  const out = await runTestFileWithRelaxedSimd(pkg, "test/linear.test.ts", { TESSERA_EXPECT_RELAXED_SIMD: "1" });
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

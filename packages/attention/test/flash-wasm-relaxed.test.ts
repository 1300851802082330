/**
 * The relaxed-SIMD build of the fused flash attention in CI: Node 20 has relaxed SIMD only behind
 * --experimental-wasm-relaxed-simd, so flash-wasm.test.ts runs again in a Node (and vitest
 * workers) started with that flag. There the relaxed build must load (TESSERA_EXPECT_RELAXED_SIMD=1)
 * and meet the same bounds as the SIMD128 build: forward and dq, dk, dv within 2e-5 max abs of
 * PyTorch's float64 autograd (fixtures/ops/attention.safetensors) and within 1e-5 abs + 1e-5
 * relative of the composed reference, for every option, on one thread and on the pool.
 * (Fused multiply-adds round differently: the two builds differ by ~1e-6 abs at T = 300, D = 64.)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTestFileWithRelaxedSimd } from "@tessera/tensor/testing";
import { expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

it("node --experimental-wasm-relaxed-simd: the relaxed build loads and flash-wasm.test.ts passes with it", async () => {
  const out = await runTestFileWithRelaxedSimd(pkg, "test/flash-wasm.test.ts", { TESSERA_EXPECT_RELAXED_SIMD: "1" });
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

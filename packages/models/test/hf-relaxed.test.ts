/**
 * The Hugging Face fixtures with the cpu backend's relaxed-SIMD kernels (fused multiply-add in the
 * GEMM/GEMV products and the flash attention): Node 20 has relaxed SIMD only behind
 * --experimental-wasm-relaxed-simd, so hf.test.ts runs again in a Node (and vitest workers)
 * started with that flag, where the relaxed builds must load and every model must still reproduce
 * PyTorch's logits and hidden states within 1e-4 and its greedy generation.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTestFileWithRelaxedSimd } from "@tessera/tensor/testing";
import { expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

it("node --experimental-wasm-relaxed-simd: hf.test.ts passes with the relaxed builds", async () => {
  const out = await runTestFileWithRelaxedSimd(pkg, "test/hf.test.ts", { TESSERA_EXPECT_RELAXED_SIMD: "1" });
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

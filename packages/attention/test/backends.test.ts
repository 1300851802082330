/**
 * The attention package on every backend that has landed: PyTorch fixture conformance, tiled =
 * reference, cached decoding = full attention and gradients, on webgpu (SwiftShader in CI) and
 * gpujs (webasm), each against the same computation on cpu.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, probeTestBackend } from "@tessera/tensor/testing";
import * as A from "../src/index";
import "../src/webgpu"; // registers the WGSL flash kernel (what `import "@tessera/attention/webgpu"` does)
import { opsFixture } from "./helpers";

for (const backend of ["webgpu", "gpujs"] as const) {
  const status = await probeTestBackend(backend); // webgpu: skipped with a printed reason when no adapter (never in CI)
  describe.skipIf(!status.available)(`attention on ${backend}`, () => {
    const on = (t: T.Tensor) => T.toBackend(t, backend);
    const rn = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed, backend });

    it("PyTorch fixtures: sdpa / causal / GQA (both forms), sigmoid, clipped, linear", async () => {
      const f = opsFixture();
      const [q, k, v, kg, vg] = [f.q, f.k, f.v, f.k_gqa, f.v_gqa].map(on);
      for (const implementation of ["reference", "tiled"] as const) {
        await assertClose(A.scaledDotProductAttention(q, k, v, { implementation, blockSize: 8 }), f.sdpa, { atol: 1e-5, rtol: 0 });
        await assertClose(A.scaledDotProductAttention(q, k, v, { causal: true, implementation, blockSize: 8 }), f.sdpa_causal, { atol: 1e-5, rtol: 0 });
        await assertClose(A.scaledDotProductAttention(q, kg, vg, { causal: true, implementation, blockSize: 8 }), f.sdpa_gqa_causal, { atol: 1e-5, rtol: 0 });
      }
      await assertClose(A.sigmoidAttention(q, k, v, { implementation: "tiled", blockSize: 8 }), f.sigmoid_attn, { atol: 1e-5, rtol: 0 });
      await assertClose(A.clippedSoftmaxAttention(q, k, v, { gamma: -0.03 }), f.clipped_softmax_attn, { atol: 1e-5, rtol: 0 });
      await assertClose(A.linearAttention(q, k, v, { causal: true, form: "chunked", chunkSize: 8 }), f.linear_attn_causal, { atol: 1e-5, rtol: 0 });
    });

    if (backend === "webgpu") {
      it("the fused WGSL flash kernel equals the reference (GQA, ragged tiles, Tq != Tk, head dim 64)", async () => {
        for (const [B, H, Hkv, Tq, Tk, D, Dv, causal] of [
          [2, 4, 2, 70, 70, 16, 8, true],
          [1, 2, 1, 5, 131, 64, 64, true],
          [1, 2, 2, 33, 47, 8, 24, false],
        ] as const) {
          const [q, k, v] = [rn([B, H, Tq, D], 7), rn([B, Hkv, Tk, D], 8), rn([B, Hkv, Tk, Dv], 9)];
          T.resetKernelStats();
          const fused = A.scaledDotProductAttention(q, k, v, { causal, implementation: "tiled" });
          expect(T.kernelStats().kernel[`${A.FLASH_ATTENTION}/webgpu`]).toBe(1); // the registered kernel ran
          await assertClose(fused, A.scaledDotProductAttention(q, k, v, { causal, implementation: "reference" }), { atol: 2e-6, rtol: 1e-5, label: `${Tq}x${Tk} D${D}` });
        }
      });
    }

    it("cached decoding equals full causal attention", async () => {
      const [q, k, v] = [rn([1, 4, 6, 8], 1), rn([1, 2, 6, 8], 2), rn([1, 2, 6, 8], 3)];
      const cache = new A.KVCache({ batch: 1, kvHeads: 2, headDim: 8, capacity: 6, backend });
      const steps = Array.from({ length: 6 }, (_, t) => A.cachedAttention(T.narrow(q, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), cache));
      await assertClose(T.concat(steps, 2), A.scaledDotProductAttention(q, k, v, { causal: true }), { atol: 1e-5, rtol: 1e-5 });
      cache.dispose();
    });

    it("tiled gradients match the cpu's", async () => {
      const shapes: [number[], number][] = [
        [[1, 2, 5, 4], 4],
        [[1, 2, 9, 4], 5],
        [[1, 2, 9, 4], 6],
      ];
      const xs = shapes.map(([s, seed]) => rn(s, seed)) as [T.Tensor, T.Tensor, T.Tensor];
      const xc = shapes.map(([s, seed]) => T.normal(s, 0, 1, { seed, backend: "cpu" })) as [T.Tensor, T.Tensor, T.Tensor]; // same values
      const f = (q: T.Tensor, k: T.Tensor, v: T.Tensor) => T.sum(T.mul(A.scaledDotProductAttention(q, k, v, { causal: true, implementation: "tiled", blockSize: 4 }), q));
      const g = T.grad(f)(...xs);
      const gc = T.grad(f)(...xc);
      for (let i = 0; i < 3; i++) {
        expect(g[i].backend).toBe(backend);
        await assertClose(g[i], gc[i], { atol: 1e-5, rtol: 1e-4 });
      }
    });
  });
}

/**
 * The real native attention forward (@tessera/native's "cpuAttention") under
 * scaledDotProductAttention's fused cpu path (@tessera/attention): forward and gradients (the
 * WebAssembly backward fed by the native forward's saved logsumexp) against the composed reference
 * on plain TypeScript loops, for decode steps and blocks of many rows, every option, grouped heads
 * and q/k/v read as views of a fused projection. 1e-5 (forward) and 1e-4 (gradients) max abs.
 * Each package tests its half alone (native: the kernel vs its float64 definition; attention: the
 * path with a JS kernel registered); this is the two together, as the bench runs them.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { scaledDotProductAttention as sdpa, type AttentionOptions } from "@tessera/attention";
import { disableNative, enableNative, nativeInfo } from "@tessera/native";

const info = nativeInfo();
if (!info.available) console.log(`[tessera] native attention tests skipped: ${info.reason}`);
const rn = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed });

describe.skipIf(!info.available)("native attention forward under scaledDotProductAttention", () => {
  afterAll(() => disableNative());

  const OPTIONS: [string, (H: number, Tk: number) => AttentionOptions][] = [
    ["causal", () => ({ causal: true })],
    ["window + softcap", () => ({ causal: true, window: [5, 0], softcap: 2.5 })],
    [
      "ALiBi + key padding",
      (H, Tk) => ({
        alibiSlopes: Array.from({ length: H }, (_, h) => 0.5 ** (h + 1)),
        keyPadding: T.tensor([Array.from({ length: Tk }, (_, j) => j % 5 === 2)], { dtype: "bool" }),
      }),
    ],
  ];
  for (const [name, opts] of OPTIONS)
    for (const Tq of [1, 3, 40])
      it(`${name}, ${Tq} query row(s) over 45 keys, 4 query heads on 2 key heads: forward and gradients`, () => {
        enableNative({ threads: 2 });
        const [H, Hkv, Tk, D] = [4, 2, 45, 16];
        // q, k, v as heads of fused projections [1, T, heads * D] (read in place by the kernel)
        const heads = (x: T.Tensor, h: number) => T.transpose(T.reshape(x, [1, x.shape[1], h, D]), 1, 2);
        const [q, k, v] = [heads(rn([1, Tq, H * D], 1), H), heads(rn([1, Tk, Hkv * D], 2), Hkv), heads(rn([1, Tk, Hkv * D], 3), Hkv)];
        const o = opts(H, Tk);
        const dout = rn([1, H, Tq, D], 4);
        const run = (implementation: "tiled" | "reference") => {
          const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(T.mul(sdpa(a, b, c, { ...o, implementation }), dout));
          return { out: sdpa(q, k, v, { ...o, implementation }), grads: T.grad(f)(q, k, v) };
        };
        T.resetKernelStats();
        const got = run("tiled");
        expect(T.kernelStats().kernel["cpuAttention/cpu"]).toBe(2); // the forward alone, then inside grad
        const ref = T.withKernelPreference("reference", () => run("reference"));
        assertClose(got.out, ref.out, { atol: 1e-5, rtol: 0 });
        got.grads.forEach((g, i) => assertClose(g, ref.grads[i], { atol: 1e-4, rtol: 0 }));
      });
});

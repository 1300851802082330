/**
 * Decode steps through a registered "cpuAttentionDecode" kernel (src/flash-wasm/registered-decode.ts;
 * @tessera/native registers the real one, tested against the definition in its own package): the
 * fused cpu path hands it the problem and the arrays as documented (q dense, keys and values in
 * place with their head stride), uses its out, and saves its lse in the layout the WebAssembly
 * backward reads. The kernel registered here computes the definition in float64 loops; the path's
 * forward and gradients are checked against the composed reference (1e-5 / 1e-4 max abs).
 */
import { afterEach, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { scaledDotProductAttention as sdpa, type AttentionOptions } from "../src/index";

const rn = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed });

interface Call {
  p: T.CpuAttentionDecodeProblem;
  qLength: number;
  k: { offset: number; stride: number };
}
const calls: Call[] = [];

/** The definition (csrc/attention.h of @tessera/native) in float64 loops. */
const definition: T.CpuAttentionDecodeKernel = {
  name: "test definition",
  decode(p, q, k, v, out, lse) {
    calls.push({ p, qLength: q.length, k: { offset: k.offset, stride: k.stride } });
    const G = p.H / p.Hkv;
    for (let b = 0; b < p.B; b++)
      for (let h = 0; h < p.H; h++)
        for (let r = 0; r < p.Tq; r++) {
          const row = (b * p.H + h) * p.Tq + r;
          const g = b * p.Hkv + Math.floor(h / G);
          const pos = r + p.Tk - p.Tq;
          const s = Array.from({ length: p.Tk }, (_, j) => {
            if ((p.causal && j > pos) || (p.window && (j < pos - p.window[0] || j > pos + p.window[1]))) return Number.NEGATIVE_INFINITY;
            let x = 0;
            for (let d = 0; d < p.D; d++) x += q[row * p.D + d] * k.data[k.offset + g * k.stride + j * p.D + d];
            x *= p.scale;
            if (p.softcap) x = p.softcap * Math.tanh(x / p.softcap);
            if (p.alibiSlopes) x -= p.alibiSlopes[h] * Math.abs(pos - j);
            return x + (p.keyBias ? p.keyBias[b * p.Tk + j] : 0);
          });
          const m = Math.max(...s);
          const e = s.map((x) => Math.exp(x - m));
          const l = e.reduce((a, x) => a + x, 0);
          for (let d = 0; d < p.Dv; d++) {
            let acc = 0;
            for (let j = 0; j < p.Tk; j++) if (e[j] > 0) acc += e[j] * v.data[v.offset + g * v.stride + j * p.Dv + d];
            out[row * p.Dv + d] = m === Number.NEGATIVE_INFINITY ? (p.zeroMaskedRows ? 0 : Number.NaN) : acc / l;
          }
          lse[row] = m === Number.NEGATIVE_INFINITY ? m : m + Math.log(l);
        }
  },
};

afterEach(() => {
  T.unregisterKernel(T.CPU_ATTENTION_DECODE, "cpu");
  calls.length = 0;
});

const decodeRuns = () => T.kernelStats().kernel[`${T.CPU_ATTENTION_DECODE}/cpu`] ?? 0;

/** out and [dq, dk, dv] of sum(out * dout) through `implementation`. */
function forwardAndGrads(q: T.Tensor, k: T.Tensor, v: T.Tensor, o: AttentionOptions, implementation: "tiled" | "reference") {
  const dout = rn([q.shape[0], q.shape[1], q.shape[2], v.shape[3]], 99);
  const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(T.mul(sdpa(a, b, c, { ...o, implementation }), dout));
  return { out: sdpa(q, k, v, { ...o, implementation }), grads: T.grad(f)(q, k, v) };
}

describe("decode steps through a registered cpuAttentionDecode kernel", () => {
  const OPTIONS: [string, (H: number, B: number, Tk: number) => AttentionOptions][] = [
    ["causal", () => ({ causal: true })],
    ["window + softcap", () => ({ causal: true, window: [3, 0], softcap: 2 })],
    [
      "ALiBi + key padding",
      (H, B, Tk) => ({
        alibiSlopes: Array.from({ length: H }, (_, h) => 0.5 ** (h + 1)),
        keyPadding: T.tensor(
          Array.from({ length: B }, (_, b) => Array.from({ length: Tk }, (_, j) => (j + b) % 4 === 1)),
          { dtype: "bool" },
        ),
      }),
    ],
  ];
  for (const [name, opts] of OPTIONS)
    it(`${name}: forward and gradients as the composed reference; the kernel got the problem`, () => {
      T.registerKernel(T.CPU_ATTENTION_DECODE, "cpu", definition);
      const [B, H, Hkv, Tq, Tk, D] = [2, 4, 2, 3, 11, 8];
      const q = rn([B, H, Tq, D], 1);
      const k = rn([B, Hkv, Tk, D], 2);
      const v = rn([B, Hkv, Tk, D], 3);
      const o = opts(H, B, Tk);
      T.resetKernelStats();
      const got = forwardAndGrads(q, k, v, o, "tiled");
      expect(decodeRuns()).toBe(2); // the forward alone, then inside grad
      expect(calls[0].p).toMatchObject({ B, H, Hkv, Tq, Tk, D, Dv: D, scale: 1 / Math.sqrt(D) });
      const ref = T.withKernelPreference("reference", () => forwardAndGrads(q, k, v, o, "reference"));
      assertClose(got.out, ref.out, { atol: 1e-5, rtol: 0 });
      got.grads.forEach((g, i) => assertClose(g, ref.grads[i], { atol: 1e-4, rtol: 0 }));
    });

  it("gets q dense when it was a view, and a cache's keys in place (head stride = its capacity)", () => {
    T.registerKernel(T.CPU_ATTENTION_DECODE, "cpu", definition);
    const [H, D] = [3, 8];
    let kc: T.Tensor | null = null;
    let vc: T.Tensor | null = null;
    for (let t = 0; t < 6; t++) {
      // an append cache [1, H, capacity, D] growing one row a step, as the models' decode
      kc = T.append(kc, rn([1, H, 1, D], 10 + t), 2);
      vc = T.append(vc, rn([1, H, 1, D], 20 + t), 2);
    }
    const q = T.narrow(rn([1, H, 4, D], 5), 2, 1, 2); // [1, H, 2, D], heads 4 rows apart
    const got = sdpa(q, kc!, vc!, { causal: true, implementation: "tiled" });
    const last = calls[calls.length - 1];
    expect(last.qLength).toBe(H * 2 * D);
    expect(last.k.stride).toBe(T.appendInfo(kc!)!.capacity * D);
    const ref = T.withKernelPreference("reference", () => sdpa(T.contiguous(q), T.contiguous(kc!), T.contiguous(vc!), { causal: true, implementation: "reference" }));
    assertClose(got, ref, { atol: 1e-5, rtol: 0 });
  });

  it("is not used for more than 8 query rows, nor once unregistered", () => {
    const q = rn([1, 2, 9, 8], 1);
    const k = rn([1, 2, 9, 8], 2);
    T.registerKernel(T.CPU_ATTENTION_DECODE, "cpu", definition);
    sdpa(q, k, k, { causal: true, implementation: "tiled" });
    expect(calls).toHaveLength(0);
    sdpa(T.narrow(q, 2, 0, 2), k, k, { causal: true, implementation: "tiled" });
    expect(calls).toHaveLength(1);
    T.unregisterKernel(T.CPU_ATTENTION_DECODE, "cpu");
    T.resetKernelStats();
    sdpa(T.narrow(q, 2, 0, 2), k, k, { causal: true, implementation: "tiled" });
    expect(calls).toHaveLength(1);
    expect(decodeRuns()).toBe(0);
  });
});

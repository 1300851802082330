/**
 * The attention forward through a registered "cpuAttention" kernel (src/flash-wasm/registered.ts;
 * @tessera/native registers the real one, tested against the definition in its own package): the
 * fused cpu path hands it the problem and the operands as documented (q, k, v read in place
 * through their strides, out written as [B, Tq, H, Dv] and returned as its [B, H, Tq, Dv] view),
 * and saves its lse in the layout the WebAssembly backward reads. The kernel registered here
 * computes the definition in float64 loops; the path's forward and gradients are checked against
 * the composed reference (1e-5 / 1e-4 max abs).
 */
import { afterEach, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { scaledDotProductAttention as sdpa, type AttentionOptions } from "../src/index";

const rn = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed });

interface Call {
  p: T.CpuAttentionProblem;
  q: T.CpuAttentionRows;
  k: T.CpuAttentionRows;
  out: T.CpuAttentionRows;
}
const calls: Call[] = [];

const at = (x: T.CpuAttentionRows, b: number, h: number, r: number) => x.offset + b * x.strides[0] + h * x.strides[1] + r * x.strides[2];

/** The definition (csrc/attention.h of @tessera/native) in float64 loops. */
const definition: T.CpuAttentionKernel = {
  name: "test definition",
  forward(p, q, k, v, out, lse) {
    calls.push({ p, q, k, out });
    const G = p.H / p.Hkv;
    for (let b = 0; b < p.B; b++)
      for (let h = 0; h < p.H; h++)
        for (let r = 0; r < p.Tq; r++) {
          const g = Math.floor(h / G);
          const pos = r + p.Tk - p.Tq;
          const s = Array.from({ length: p.Tk }, (_, j) => {
            if ((p.causal && j > pos) || (p.window && (j < pos - p.window[0] || j > pos + p.window[1]))) return Number.NEGATIVE_INFINITY;
            let x = 0;
            for (let d = 0; d < p.D; d++) x += q.data[at(q, b, h, r) + d] * k.data[at(k, b, g, j) + d];
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
            for (let j = 0; j < p.Tk; j++) if (e[j] > 0) acc += e[j] * v.data[at(v, b, g, j) + d];
            out.data[at(out, b, h, r) + d] = m === Number.NEGATIVE_INFINITY ? (p.zeroMaskedRows ? 0 : Number.NaN) : acc / l;
          }
          lse[(b * p.H + h) * p.Tq + r] = m === Number.NEGATIVE_INFINITY ? m : m + Math.log(l);
        }
    return true;
  },
};

afterEach(() => {
  T.unregisterKernel(T.CPU_ATTENTION, "cpu");
  calls.length = 0;
});

const runs = () => T.kernelStats().kernel[`${T.CPU_ATTENTION}/cpu`] ?? 0;

/** out and [dq, dk, dv] of sum(out * dout) through `implementation`. */
function forwardAndGrads(q: T.Tensor, k: T.Tensor, v: T.Tensor, o: AttentionOptions, implementation: "tiled" | "reference") {
  const dout = rn([q.shape[0], q.shape[1], q.shape[2], v.shape[3]], 99);
  const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(T.mul(sdpa(a, b, c, { ...o, implementation }), dout));
  return { out: sdpa(q, k, v, { ...o, implementation }), grads: T.grad(f)(q, k, v) };
}

describe("the attention forward through a registered cpuAttention kernel", () => {
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
    for (const Tq of [3, 11])
      it(`${name}, ${Tq} query rows: forward and gradients as the composed reference; the kernel got the problem`, () => {
        T.registerKernel(T.CPU_ATTENTION, "cpu", definition);
        const [B, H, Hkv, Tk, D] = [2, 4, 2, 11, 8];
        const q = rn([B, H, Tq, D], 1);
        const k = rn([B, Hkv, Tk, D], 2);
        const v = rn([B, Hkv, Tk, D], 3);
        const o = opts(H, B, Tk);
        T.resetKernelStats();
        const got = forwardAndGrads(q, k, v, o, "tiled");
        expect(runs()).toBe(2); // the forward alone, then inside grad
        expect(calls[0].p).toMatchObject({ B, H, Hkv, Tq, Tk, D, Dv: D, scale: 1 / Math.sqrt(D) });
        const ref = T.withKernelPreference("reference", () => forwardAndGrads(q, k, v, o, "reference"));
        assertClose(got.out, ref.out, { atol: 1e-5, rtol: 0 });
        got.grads.forEach((g, i) => assertClose(g, ref.grads[i], { atol: 1e-4, rtol: 0 }));
      });

  it("reads q, k, v in place through their strides and returns out as a view of [B, Tq, H, Dv]", () => {
    T.registerKernel(T.CPU_ATTENTION, "cpu", definition);
    const [B, Tn, H, D] = [2, 5, 3, 8];
    // heads of a fused qkv projection [B, T, 3 H D] viewed as [B, H, T, D] (GPT-2's split): no copies
    const qkv = rn([B, Tn, 3 * H * D], 4);
    const heads = (i: number) => T.transpose(T.reshape(T.narrow(qkv, 2, i * H * D, H * D), [B, Tn, H, D]), 1, 2);
    const [q, k, v] = [heads(0), heads(1), heads(2)];
    const got = sdpa(q, k, v, { causal: true, implementation: "tiled" });
    const last = calls[calls.length - 1];
    expect(last.q.data).toBe(T.float32Rows(qkv)!.data);
    expect(last.q.strides).toEqual([Tn * 3 * H * D, D, 3 * H * D]);
    expect(last.k.offset).toBe(H * D);
    expect(last.out.strides).toEqual([Tn * H * D, D, H * D]);
    expect(T.transpose(got, 1, 2).isContiguous).toBe(true); // merging the heads copies nothing
    const ref = T.withKernelPreference("reference", () => sdpa(T.contiguous(q), T.contiguous(k), T.contiguous(v), { causal: true, implementation: "reference" }));
    assertClose(got, ref, { atol: 1e-5, rtol: 0 });
    // a key / value cache grown by append: its rows in place, head stride = its capacity
    let kc: T.Tensor | null = null;
    let vc: T.Tensor | null = null;
    for (let t = 0; t < 6; t++) {
      kc = T.append(kc, rn([1, H, 1, D], 10 + t), 2);
      vc = T.append(vc, rn([1, H, 1, D], 20 + t), 2);
    }
    const q1 = rn([1, H, 1, D], 5);
    const step = sdpa(q1, kc!, vc!, { causal: true, implementation: "tiled" });
    expect(calls[calls.length - 1].k.strides[1]).toBe(T.appendInfo(kc!)!.capacity * D);
    const stepRef = T.withKernelPreference("reference", () => sdpa(q1, T.contiguous(kc!), T.contiguous(vc!), { causal: true, implementation: "reference" }));
    assertClose(step, stepRef, { atol: 1e-5, rtol: 0 });
  });

  it("keeps memory flat over a loop, gradients included, and after a kernel that throws", () => {
    T.registerKernel(T.CPU_ATTENTION, "cpu", definition);
    const [q, k, v] = [rn([1, 2, 6, 8], 1), rn([1, 2, 6, 8], 2), rn([1, 2, 6, 8], 3)];
    const step = () =>
      T.tidy(() => {
        const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(sdpa(a, b, c, { causal: true, implementation: "tiled" }));
        T.grad(f)(q, k, v);
        return sdpa(q, k, v, { causal: true, implementation: "tiled" }).dataSync();
      });
    step();
    const before = T.memory();
    for (let i = 0; i < 5; i++) step();
    expect(T.memory().numTensors).toBe(before.numTensors);
    expect(T.memory().numBytes).toBe(before.numBytes);
    T.registerKernel(T.CPU_ATTENTION, "cpu", {
      name: "throws",
      forward() {
        throw new Error("kernel failed");
      },
    });
    expect(() => T.tidy(() => sdpa(q, k, v, { causal: true, implementation: "tiled" }))).toThrow(/kernel failed/);
    expect(T.memory().numTensors).toBe(before.numTensors);
  });

  it("falls back to the WebAssembly forward when the kernel declines the problem", () => {
    let asked = 0;
    T.registerKernel(T.CPU_ATTENTION, "cpu", {
      name: "declines",
      forward() {
        asked++;
        return false;
      },
    });
    const [q, k, v] = [rn([1, 2, 7, 8], 1), rn([1, 2, 7, 8], 2), rn([1, 2, 7, 8], 3)];
    T.resetKernelStats();
    const got = sdpa(q, k, v, { causal: true, implementation: "tiled" });
    expect(asked).toBe(1);
    expect(runs()).toBe(0);
    const ref = T.withKernelPreference("reference", () => sdpa(q, k, v, { causal: true, implementation: "reference" }));
    assertClose(got, ref, { atol: 1e-5, rtol: 0 });
  });

  it("is not used once unregistered (the WebAssembly forward runs)", () => {
    const q = rn([1, 2, 9, 8], 1);
    T.registerKernel(T.CPU_ATTENTION, "cpu", definition);
    sdpa(q, q, q, { causal: true, implementation: "tiled" });
    expect(calls).toHaveLength(1);
    T.unregisterKernel(T.CPU_ATTENTION, "cpu");
    T.resetKernelStats();
    sdpa(q, q, q, { causal: true, implementation: "tiled" });
    expect(calls).toHaveLength(1);
    expect(runs()).toBe(0);
  });
});

/**
 * The integer-only FFN block (I-BERT) against the float block it replaces: LayerNorm(x +
 * W2 GELU(W1 x + b1) + b2) with the same int8 weights dequantized.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as Q from "../src/index";

describe("integer-only FFN block", () => {
  it("dyadic factors approximate ratios to 2^-30 relative", () => {
    for (const r of [1, 0.1234, 3e-5, 17.5]) {
      const d = Q.dyadic(r);
      expect(d.m).toBeLessThan(2 ** 31);
      expect(Math.abs(d.m / 2 ** d.shift - r) / r).toBeLessThan(2 ** -29);
    }
    expect(() => Q.dyadic(0)).toThrow(/ratio must be positive/);
  });

  it("matches the float block within 3% relative RMS (int8 activations, 16-bit intermediates)", () => {
    const [Tn, D, H] = [16, 64, 256];
    const fmt: Q.QuantFormat = { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } };
    const w1 = Q.quantize(T.normal([H, D], 0, 1 / Math.sqrt(D), { seed: 1 }), fmt);
    const w2 = Q.quantize(T.normal([D, H], 0, 1 / Math.sqrt(H), { seed: 2 }), fmt);
    const b1 = T.normal([H], 0, 0.1, { seed: 3 });
    const b2 = T.normal([D], 0, 0.1, { seed: 4 });
    const lw = T.add(T.mul(T.normal([D], 0, 1, { seed: 5 }), 0.1), 1);
    const lb = T.mul(T.normal([D], 0, 1, { seed: 6 }), 0.1);
    const x = T.normal([Tn, D], 0, 1, { seed: 7 });
    const ref = T.layerNorm(T.add(x, T.linear(T.gelu(T.linear(x, w1.dequantize(), b1)), w2.dequantize(), b2)), lw, lb, 0).dataSync();
    const got = Q.integerFFN(x.dataSync() as Float32Array, Tn, { w1, b1: b1.dataSync(), w2, b2: b2.dataSync(), lnWeight: lw.dataSync(), lnBias: lb.dataSync() });
    let num = 0;
    let den = 0;
    for (let i = 0; i < ref.length; i++) {
      num += (got[i] - ref[i]) ** 2;
      den += ref[i] ** 2;
    }
    const rel = Math.sqrt(num / den);
    console.log(`integer-only FFN block: relative RMS error ${rel.toFixed(4)} vs the float block`);
    expect(rel).toBeLessThan(0.03);
  });

  it("the attention sub-block matches the float block within 5% relative RMS", () => {
    const [Tn, D, H] = [12, 32, 4];
    const fmt: Q.QuantFormat = { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } };
    const W = [1, 2, 3, 4].map((s) => Q.quantize(T.normal([D, D], 0, 1 / Math.sqrt(D), { seed: s }), fmt));
    const B = [5, 6, 7, 8].map((s) => T.normal([D], 0, 0.05, { seed: s }));
    const lw = T.add(T.mul(T.normal([D], 0, 1, { seed: 9 }), 0.1), 1);
    const lb = T.mul(T.normal([D], 0, 1, { seed: 10 }), 0.1);
    const x = T.normal([Tn, D], 0, 1, { seed: 11 });
    const heads = (t: T.Tensor) => T.permute(T.reshape(t, [Tn, H, D / H]), [1, 0, 2]); // [H, T, Dh]
    const [q, k, v] = [0, 1, 2].map((i) => heads(T.linear(x, W[i].dequantize(), B[i])));
    const p = T.softmax(T.div(T.matmul(q, T.transpose(k, 1, 2)), Math.sqrt(D / H)), -1);
    const ctx = T.reshape(T.permute(T.matmul(p, v), [1, 0, 2]), [Tn, D]);
    const ref = T.layerNorm(T.add(x, T.linear(ctx, W[3].dequantize(), B[3])), lw, lb, 0).dataSync();
    const got = Q.integerAttention(x.dataSync() as Float32Array, Tn, {
      wq: W[0],
      wk: W[1],
      wv: W[2],
      wo: W[3],
      bq: B[0].dataSync(),
      bk: B[1].dataSync(),
      bv: B[2].dataSync(),
      bo: B[3].dataSync(),
      heads: H,
      lnWeight: lw.dataSync(),
      lnBias: lb.dataSync(),
    });
    let num = 0;
    let den = 0;
    for (let i = 0; i < ref.length; i++) {
      num += (got[i] - ref[i]) ** 2;
      den += ref[i] ** 2;
    }
    const rel = Math.sqrt(num / den);
    console.log(`integer-only attention block: relative RMS error ${rel.toFixed(4)} vs the float block`);
    expect(rel).toBeLessThan(0.05);
  });
});

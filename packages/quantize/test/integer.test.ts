/**
 * I-BERT's integer-only GELU, softmax and LayerNorm against their float definitions on int8
 * inputs (errors stated per test), and the integer square root.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as Q from "../src/index";

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("integer-only non-linearities (I-BERT)", () => {
  it("isqrt is floor(sqrt(n)) for small and large n", () => {
    for (const n of [0, 1, 2, 3, 4, 15, 16, 17, 99, 1e6, 2 ** 31 - 1, 2 ** 40 + 12345]) expect(Q.isqrt(n)).toBe(Math.floor(Math.sqrt(n)));
    expect(() => Q.isqrt(-1)).toThrow(/non-negative integer/);
  });

  it("intGelu on 16-bit inputs in [-4, 4] (an int8 matmul's accumulator scale): max error < 0.02 of GELU (the erf polynomial's own error is ~1e-2)", () => {
    const x = Float64Array.from({ length: 2001 }, (_, i) => -4 + (8 * i) / 2000);
    const qi = Q.toInt(x, 16);
    const r = Q.intGelu(qi);
    const got = Array.from(r.q, (q) => q * r.scale);
    const deq = Array.from(qi.q, (q) => q * qi.scale); // the int8 input itself
    const want = T.gelu(T.tensor(Float32Array.from(deq))).dataSync();
    const e = maxErr(got, want);
    console.log(`intGelu max abs error ${e.toExponential(2)}`);
    expect(e).toBeLessThan(0.02);
  });

  it("intSoftmax on 16-bit logits: max error < 0.006 of softmax (8-bit output, step 1/256)", () => {
    const logits = T.mul(T.normal([16, 32], 0, 1, { seed: 1 }), 3).dataSync();
    const qi = Q.toInt(logits, 16);
    const r = Q.intSoftmax(qi, 32, 8);
    const got = Array.from(r.q, (q) => q * r.scale);
    const want = T.softmax(
      T.tensor(
        Float32Array.from(qi.q, (q) => q * qi.scale),
        { shape: [16, 32] },
      ),
      -1,
    ).dataSync();
    const e = maxErr(got, want);
    console.log(`intSoftmax max abs error ${e.toExponential(2)}`);
    expect(e).toBeLessThan(0.006);
    expect(() => Q.intSoftmax(qi, 31)).toThrow(/are not rows of 31/);
  });

  it("intLayerNorm on 16-bit rows: max error < 0.02 of LayerNorm (eps 0) with weight and bias", () => {
    const D = 64;
    const x = T.add(T.mul(T.normal([8, D], 0, 1, { seed: 2 }), 2), 0.5).dataSync();
    const qi = Q.toInt(x, 16);
    const w = T.add(T.mul(T.normal([D], 0, 1, { seed: 3 }), 0.2), 1).dataSync();
    const b = T.mul(T.normal([D], 0, 1, { seed: 4 }), 0.1).dataSync();
    const r = Q.intLayerNorm(qi, D, w, b);
    const got = Array.from(r.q, (q, i) => q * r.scales[i % D]);
    const want = T.layerNorm(
      T.tensor(
        Float32Array.from(qi.q, (q) => q * qi.scale),
        { shape: [8, D] },
      ),
      T.tensor(w),
      T.tensor(b),
      0,
    ).dataSync();
    const e = maxErr(got, want);
    console.log(`intLayerNorm max abs error ${e.toExponential(2)}`);
    expect(e).toBeLessThan(0.02);
  });
});

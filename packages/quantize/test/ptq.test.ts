/**
 * Post-training quantization against its baseline: GPTQ at 4 and 3 bits at least halves the
 * output error of round-to-nearest on a linear layer fed correlated inputs; AWQ beats
 * round-to-nearest when a few input channels carry large activations; the linear-algebra helpers
 * and diagnostics match hand computations.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as Q from "../src/index";
import { cholesky, choleskyInverse } from "../src/ptq/linalg";

/** Mean squared output error of x W^T vs x Wq^T. */
function outErr(x: Float32Array, n: number, w: Float32Array, wq: Float32Array, rows: number, cols: number): number {
  let s = 0;
  for (let t = 0; t < n; t++)
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let k = 0; k < cols; k++) d += x[t * cols + k] * (w[r * cols + k] - wq[r * cols + k]);
      s += d * d;
    }
  return s / (n * rows);
}

/** Correlated inputs: x = z A with a random mixing A (strongly non-identity covariance). */
function correlated(n: number, cols: number, seed: number): Float32Array {
  const z = T.normal([n, 16], 0, 1, { seed });
  const A = T.normal([16, cols], 0, 1, { seed: seed + 1 });
  return T.add(T.matmul(z, A), T.normal([n, cols], 0, 0.05, { seed: seed + 2 })).dataSync() as Float32Array;
}

describe("GPTQ", () => {
  const [rows, cols, n] = [48, 96, 512];
  const w = T.normal([rows, cols], 0, 1, { seed: 3 }).dataSync() as Float32Array;
  const x = correlated(n, cols, 10);
  const acc = new Q.HessianAccumulator(cols);
  acc.add(x.subarray(0, 200 * cols), 200); // two calibration batches: the running mean equals one pass
  acc.add(x.subarray(200 * cols), n - 200);

  for (const [bits, groupSize, actOrder] of [
    [4, 0, false],
    [4, 32, false],
    [3, 0, true],
    [4, 32, true],
  ] as const) {
    it(`${bits} bits, ${groupSize ? `groups of ${groupSize}` : "per row"}${actOrder ? ", act-order" : ""}: output error at most half of round-to-nearest's`, () => {
      const g = Q.gptq(w, rows, cols, acc.H, { bits, groupSize, actOrder });
      const r = Q.rtn(w, rows, cols, { bits, groupSize });
      const eg = outErr(x, n, w, g.values(), rows, cols);
      const er = outErr(x, n, w, r.values(), rows, cols);
      console.log(
        `GPTQ ${bits}-bit ${groupSize || "row"}${actOrder ? " act-order" : ""}: output MSE ${eg.toExponential(3)} vs RTN ${er.toExponential(3)} (ratio ${(eg / er).toFixed(3)})`,
      );
      expect(eg).toBeLessThan(0.5 * er);
      expect(g.format).toEqual({ type: "int", bits, symmetric: false, granularity: groupSize ? { kind: "group", size: groupSize } : { kind: "channel", axis: 0 } });
      // The result is an ordinary QuantizedTensor: it packs, prepares for the kernels, saves.
      expect(new Q.QuantizedLinearWeight(g).fused).toBe(bits === 4);
    });
  }

  it("the Hessian accumulator's running mean equals 2/n X^T X", () => {
    const one = new Q.HessianAccumulator(cols);
    one.add(x, n);
    for (let i = 0; i < acc.H.length; i += 131) expect(Math.abs(acc.H[i] - one.H[i])).toBeLessThan(1e-9 * Math.max(1, Math.abs(one.H[i])));
    let direct = 0;
    for (let t = 0; t < n; t++) direct += (2 / n) * x[t * cols + 3] * x[t * cols + 7];
    expect(Math.abs(one.H[3 * cols + 7] - direct)).toBeLessThan(1e-9 * Math.abs(direct));
  });

  it("Cholesky and its inverse reproduce A and A^-1", () => {
    const a = Float64Array.from([4, 2, 0.6, 2, 5, 1, 0.6, 1, 3]);
    const L = cholesky(a, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += L[i * 3 + k] * L[j * 3 + k];
        expect(Math.abs(s - a[i * 3 + j])).toBeLessThan(1e-12);
      }
    const inv = choleskyInverse(L, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += a[i * 3 + k] * inv[k * 3 + j];
        expect(Math.abs(s - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite at column 1/);
  });
});

describe("AWQ", () => {
  it("with outlier activation channels, activation-aware scales beat round-to-nearest", () => {
    const [rows, cols, n] = [32, 128, 256];
    const w = T.normal([rows, cols], 0, 1, { seed: 5 }).dataSync() as Float32Array;
    const xt = T.mul(T.normal([n, cols], 0, 1, { seed: 6 }), T.tensor(Float32Array.from({ length: cols }, (_, k) => (k % 17 === 0 ? 30 : 1))));
    const x = xt.dataSync() as Float32Array;
    const r = Q.awq(w, rows, cols, x, n, { bits: 4, groupSize: 32 });
    const noClip = Q.awq(w, rows, cols, x, n, { bits: 4, groupSize: 32, clip: false });
    console.log(`AWQ clip search: output MSE ${r.error.toExponential(3)} with, ${noClip.error.toExponential(3)} without`);
    expect(r.error).toBeLessThanOrEqual(noClip.error * 1.0001);
    console.log(`AWQ 4-bit g32: alpha ${r.alpha}, output MSE ${r.error.toExponential(3)} vs RTN ${r.rtnError.toExponential(3)} (ratio ${(r.error / r.rtnError).toFixed(3)})`);
    expect(r.alpha).toBeGreaterThan(0);
    expect(r.error).toBeLessThan(0.8 * r.rtnError);
    // Applying it: quantizedLinear(x / s, q) is the layer.
    const xs = T.div(xt, T.tensor(r.scales));
    const y = Q.quantizedLinear(xs, new Q.QuantizedLinearWeight(r.q)).dataSync();
    let mse = 0;
    const ref = T.matmul(xt, T.transpose(T.tensor(w, { shape: [rows, cols] }))).dataSync();
    for (let i = 0; i < y.length; i++) mse += (y[i] - ref[i]) ** 2 / y.length;
    expect(Math.abs(mse / r.error - 1)).toBeLessThan(1e-3);
  });
});

describe("diagnostics", () => {
  it("kurtosis, infinity norm and SQNR", () => {
    const g = T.normal([200000], 0, 1, { seed: 1 }).dataSync();
    expect(Math.abs(Q.kurtosis(g) - 3)).toBeLessThan(0.05);
    const spiky = Float32Array.from(g);
    spiky[5] = 200;
    expect(Q.kurtosis(spiky)).toBeGreaterThan(100);
    expect(Q.infinityNorm([1, -7, 3])).toBe(7);
    expect(Q.sqnr([1, 2, 3], [1, 2, 3.1])).toBeCloseTo(10 * Math.log10(14 / 0.01), 6);
    const q8 = Q.quantize(T.tensor(g, { shape: [200000] }), { type: "int", bits: 8, symmetric: true, granularity: { kind: "tensor" } });
    expect(Q.sqnr(g, q8.values())).toBeGreaterThan(30);
  });
});

/**
 * The native row-wise kernels (softmax, log-softmax, LayerNorm, RMSNorm over the last axis)
 * against their float64 definitions, with float32 error bounds stated per op below; every
 * instruction set this cpu runs on 1-3 threads (bit-identical across threads: a row is one
 * task), row lengths around the vector widths, special values as the cpu backend's reference
 * loops give them, in place, the errors, and the cpu backend's routing.
 */
import * as T from "@tessera/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon";
import { configureNative, disableNative, enableNative, type NativeIsa } from "../src/index";
import { info, values } from "./helpers";

const u = 2 ** -24;
/** Row lengths: below, at and past every vector width (4, 8, 16 lanes), a model's, and long rows. */
const LENGTHS = [1, 3, 4, 15, 16, 17, 31, 33, 100, 768, 1000, 4099];
/** Rows per length: enough elements (>= 65536) on the long rows for the threads to split them. */
const rowsFor = (D: number) => (D === 4099 ? [1, 19] : D >= 768 ? [1, 90] : [1, 5, 19]);
const OPS = ["softmax", "logSoftmax", "layerNorm", "rmsNorm"] as const;
const CODE = { softmax: 0, logSoftmax: 1, layerNorm: 2, rmsNorm: 3 } as const;
type Op = (typeof OPS)[number];

/**
 * Row r of the op in float64, and each element's bound. The sums (of exps, of x, of squares)
 * run along VW lanes (4, 8 or 16), then across the lanes and through the tail: at most
 * D/VW + 2 VW roundings, D/4 + 32 over every ISA: gamma = (D/4 + 32) u relative to the sum of
 * magnitudes (Higham 3.1). vexp is within 3e-7 relative; x - max is rounded (u |x - max|, which
 * exp turns into that relative error).
 */
function reference(op: Op, x: Float32Array, D: number, r: number, w: Float32Array | null, b: Float32Array | null, eps: number) {
  const row = Array.from(x.subarray(r * D, r * D + D));
  const gamma = (D / 4 + 32) * u;
  const want = new Float64Array(D);
  const bound = new Float64Array(D);
  if (op === "softmax" || op === "logSoftmax") {
    const m = Math.max(...row);
    const range = m - Math.min(...row);
    const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
    for (let i = 0; i < D; i++) {
      if (op === "softmax") {
        want[i] = Math.exp(row[i] - m) / s;
        bound[i] = want[i] * (3e-7 + u * (Math.abs(row[i] - m) + range) + gamma + 3e-7 + 2 * u) + 1e-38;
      } else {
        want[i] = row[i] - m - Math.log(s);
        // the shift m + log(s) (its sum's relative error is log's absolute one) and two roundings
        bound[i] = 2 * u * (Math.abs(row[i]) + Math.abs(m) + Math.abs(Math.log(s)) + range) + gamma + 4e-7;
      }
    }
  } else {
    const mean = op === "layerNorm" ? row.reduce((a, v) => a + v, 0) / D : 0;
    const meanAbs = row.reduce((a, v) => a + Math.abs(v), 0) / D;
    const q = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
    const rstd = 1 / Math.sqrt(q + eps);
    for (let i = 0; i < D; i++) {
      const wi = w ? w[i] : 1;
      const bi = b ? b[i] : 0;
      want[i] = (row[i] - mean) * rstd * wi + bi;
      // mean: gamma meanAbs; rstd: (gamma + 3u) relative; the products and the bias: 3u
      bound[i] = ((gamma + 6 * u) * (Math.abs(row[i] - mean) + (op === "layerNorm" ? meanAbs : 0)) * rstd + u * Math.abs(bi)) * Math.abs(wi) + u * Math.abs(want[i]) + 1e-30;
    }
  }
  return { want, bound };
}

describe.skipIf(!info.available)("native row-wise kernels", () => {
  const addon = loadAddon().addon;
  afterAll(() => configureNative({ isa: info.isa ?? undefined, threads: info.threads }));

  for (const isa of info.isas as NativeIsa[]) {
    it(`${isa}: softmax, log-softmax, LayerNorm and RMSNorm within their bounds of the float64 definition, the same on 1-3 threads`, () => {
      try {
        configureNative({ isa, threads: 1 });
      } catch {
        return; // not on this cpu (the loader never picks it)
      }
      if (!addon) throw new Error("unreachable");
      let checked = 0;
      for (const D of LENGTHS) {
        for (const rows of rowsFor(D)) {
          const x = values(rows * D, D * 31 + rows).map((v) => v * 8); // [-8, 8)
          const w = values(D, D + 5).map((v) => 1 + 0.5 * v);
          const b = values(D, D + 9).map((v) => 0.5 * v);
          for (const op of OPS) {
            for (const affine of op === "layerNorm" ? [true, false] : op === "rmsNorm" ? [true, false] : [false]) {
              const [wt, bs] = affine ? [w, op === "layerNorm" ? b : null] : [null, null];
              const eps = op === "rmsNorm" ? 1e-6 : 1e-5;
              const outs = [1, 2, 3].map((threads) => {
                configureNative({ isa, threads });
                const out = new Float32Array(rows * D);
                addon.rows(CODE[op], x, out, rows, D, wt, bs, eps);
                return out;
              });
              expect(outs[1], `${op} D=${D} rows=${rows}: 2 threads`).toEqual(outs[0]);
              expect(outs[2], `${op} D=${D} rows=${rows}: 3 threads`).toEqual(outs[0]);
              for (let r = 0; r < rows; r++) {
                const { want, bound } = reference(op, x, D, r, wt, bs, eps);
                for (let i = 0; i < D; i++) {
                  const got = outs[0][r * D + i];
                  if (!(Math.abs(got - want[i]) <= bound[i]))
                    expect.fail(`${isa} ${op} D=${D} row ${r} [${i}]: ${got} vs ${want[i]} (error ${Math.abs(got - want[i])}, bound ${bound[i]})`);
                  checked++;
                }
              }
            }
          }
        }
      }
      expect(checked).toBeGreaterThan(1_000_000);
    });
  }

  it("in place (out = x) gives what a separate out does", () => {
    if (!addon) throw new Error("unreachable");
    const D = 100;
    const x = values(7 * D, 3).map((v) => v * 5);
    const w = values(D, 4);
    for (const op of OPS) {
      const apart = new Float32Array(x.length);
      addon.rows(CODE[op], x, apart, 7, D, op.endsWith("Norm") ? w : null, null, 1e-5);
      const inPlace = x.slice();
      addon.rows(CODE[op], inPlace, inPlace, 7, D, op.endsWith("Norm") ? w : null, null, 1e-5);
      expect(inPlace, op).toEqual(apart);
    }
  });

  it("special values (NaN, +-inf, rows of -inf) match the cpu backend's reference loops", () => {
    const D = 20;
    const rowsOf = [
      Array(D).fill(Number.NEGATIVE_INFINITY), // fully masked: NaN, as PyTorch
      Array.from({ length: D }, (_, i) => (i % 3 === 0 ? Number.NEGATIVE_INFINITY : i / 4)), // some keys masked
      Array.from({ length: D }, (_, i) => (i === 7 ? Number.NaN : i)),
      Array.from({ length: D }, (_, i) => (i === 2 ? Number.POSITIVE_INFINITY : i)),
      Array.from({ length: D }, (_, i) => (i === 5 ? 1e15 : -1e15)), // exps underflow to 0; squares stay in float32's range
      Array(D).fill(3), // constant: variance 0, eps keeps it finite
    ];
    const rowCount = 220; // past the size at which the backend uses a kernel (4096 elements)
    const data = Array.from({ length: rowCount }, (_, r) => rowsOf[r % rowsOf.length]).flat();
    const x = T.tensor(data, { shape: [rowCount, D] });
    const w = T.tensor(Array.from({ length: D }, (_, i) => 1 + i / 10));
    const cases = () => [T.softmax(x, -1), T.logSoftmax(x, -1), T.layerNorm(x, w, null, 1e-5), T.rmsNorm(x, w, 1e-6)];
    enableNative();
    T.resetKernelStats();
    const got = T.tidy(cases).map((t) => t.dataSync());
    expect(T.kernelStats().kernel["cpuElementwise/cpu"]).toBe(4);
    disableNative();
    const want = T.withKernelPreference("reference", () => T.tidy(cases).map((t) => t.dataSync()));
    for (let c = 0; c < got.length; c++) {
      for (let i = 0; i < rowsOf.length * D; i++) {
        const [g, v] = [got[c][i], want[c][i]];
        const at = `case ${c} row ${Math.floor(i / D)} [${i % D}]`;
        if (Number.isNaN(v)) expect(g, at).toBeNaN();
        else if (!Number.isFinite(v)) expect(g, at).toBe(v);
        else expect(Math.abs(g - v), `${at}: ${g} vs ${v}`).toBeLessThanOrEqual(2e-6 * Math.abs(v) + 1e-6);
      }
    }
    T.dispose([x, w]);
  });

  it("the addon refuses short, overlapping or mistyped arrays, bad codes and operands an op does not take", () => {
    if (!addon) throw new Error("unreachable");
    const x = new Float32Array(24);
    const out = new Float32Array(24);
    const w = new Float32Array(6);
    expect(() => addon.rows(4, x, out, 4, 6, null, null, 0)).toThrow(/op must be a code in \[0, 4\)/);
    expect(() => addon.rows(0, x, out.subarray(1), 4, 6, null, null, 0)).toThrow(/arrays too short for \[4, 6\]: x 24, out 23 \(need 24\)/);
    expect(() => addon.rows(2, x, out, 4, 6, w.subarray(1), null, 1e-5)).toThrow(/weight 5, bias 0 \(need 6\)/);
    expect(() => addon.rows(0, x, out, 4, 6, w, null, 0)).toThrow(/softmax takes no weight or bias/);
    expect(() => addon.rows(3, x, out, 4, 6, w, w, 1e-6)).toThrow(/RMSNorm takes no bias/);
    expect(() => addon.rows(2, x, x.subarray(1), 3, 6, null, null, 1e-5)).toThrow(/out must be x itself or not overlap it/);
    expect(() => addon.rows(2, x, out, 4, 6, out.subarray(0, 6), null, 1e-5)).toThrow(/out must not overlap weight/);
    expect(() => addon.rows(2, x, out, 4, 6, null, out.subarray(18), 1e-5)).toThrow(/out must not overlap bias/);
    expect(() => addon.rows(2, x, out, 4, 6, null, null, -1)).toThrow(/eps must be a number in \[0, 3.4e38\]/);
    expect(() => addon.rows(2, x, out, 4, 6, null, null, 1e39)).toThrow(RangeError);
    expect(() => addon.rows(2, x, out, 4, 6, null, null, Number.NaN)).toThrow(RangeError);
    expect(() => addon.rows(2, x, out, -1, 6, null, null, 0)).toThrow(/whole numbers/);
    expect(() => addon.rows(2, new Float64Array(24) as unknown as Float32Array, out, 4, 6, null, null, 0)).toThrow(/x and out must be Float32Arrays/);
    expect(() => addon.rows(2, x, out, 4, 6, [1, 2] as unknown as Float32Array, null, 0)).toThrow(/weight and bias must be Float32Arrays or null/);
    expect(() => addon.rows(0, x, out, 0, 6, null, null, 0)).not.toThrow(); // empty
  });

  it("the registered kernel declines what the addon would refuse (the backend's kernels run instead)", () => {
    enableNative();
    const k = T.getKernel<T.CpuElementwiseKernel>(T.CPU_ELEMENTWISE, "cpu");
    if (!k?.rows) throw new Error("no row kernel registered");
    const x = new Float32Array(24);
    const out = new Float32Array(24);
    expect(k.rows("layerNorm", x, 4, 6, out, new Float32Array(5), null, 1e-5)).toBe(false); // short weight
    expect(k.rows("layerNorm", x, 4, 6, out, null, null, -1)).toBe(false);
    expect(k.rows("softmax", x, 4, 6, x.subarray(0, 23) as Float32Array, null, null, 0)).toBe(false); // short out
    expect(k.rows("layerNorm", x, 4, 6, out, out, null, 1e-5)).toBe(false); // weight is out
    expect(k.rows("layerNorm", x, 4, 6, out, null, out.subarray(6, 12), 1e-5)).toBe(false); // bias inside out
    expect(k.rows("softmax", x, 4, 6, x.subarray(1, 25), null, null, 0)).toBe(false); // out overlaps x, not in place
    expect(k.rows("softmax", x, 2.5, 6, out, null, null, 0)).toBe(false); // not whole
    expect(k.rows("layerNorm", x, 4, 6, out, null, null, 1e39)).toBe(false); // eps past float32
    expect(k.rows("softmax", x, 4, 6, x, null, null, 0)).toBe(true); // in place
    expect(k.rows("softmax", x, 4, 6, out, null, null, 0)).toBe(true);
    disableNative();
  });

  it("the cpu backend routes float32 softmax and norms to it (kernelStats) with the reference's results; memory stays flat", () => {
    enableNative();
    const x = T.normal([3, 40, 96], 0, 3, { seed: 1 });
    const w = T.normal([96], 1, 0.2, { seed: 2 });
    const b = T.normal([96], 0, 0.2, { seed: 3 });
    const cases = () => [T.softmax(x, -1), T.logSoftmax(x, -1), T.layerNorm(x, w, b, 1e-5), T.layerNorm(x, null, null, 1e-5), T.rmsNorm(x, w, 1e-6), T.rmsNorm(x, null, 1e-6)];
    T.resetKernelStats();
    const fast = T.tidy(cases);
    expect(T.kernelStats().kernel["cpuElementwise/cpu"]).toBe(6);
    const before = T.memory().numTensors;
    for (let i = 0; i < 5; i++) T.dispose(T.tidy(cases));
    expect(T.memory().numTensors).toBe(before);
    disableNative();
    const ref = T.withKernelPreference("reference", () => T.tidy(cases));
    for (let i = 0; i < fast.length; i++) {
      const [f, r] = [fast[i].dataSync(), ref[i].dataSync()];
      for (let j = 0; j < f.length; j++) if (!(Math.abs(f[j] - r[j]) <= 2e-6 * Math.abs(r[j]) + 1e-6)) expect.fail(`case ${i} at ${j}: ${f[j]} vs ${r[j]}`);
    }
    // Strided, small or float16 inputs stay with the backend's own kernels.
    enableNative();
    T.resetKernelStats();
    T.dispose(T.tidy(() => [T.softmax(T.transpose(x, 1, 2), -1), T.softmax(T.normal([4, 8], 0, 1, { seed: 4 }), -1), T.softmax(T.cast(x, "float16"), -1)]));
    expect(T.kernelStats().kernel["cpuElementwise/cpu"] ?? 0).toBe(1); // the transpose's gather only
    disableNative();
    T.dispose([fast, ref, x, w, b]);
  });
});

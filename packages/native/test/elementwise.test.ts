/**
 * The native element-wise kernels against their definitions: the activations in float64 (bounds
 * below), +-*\/ bit for bit against float32 arithmetic (each lane is one IEEE operation), strided
 * copies value for value; every instruction set this cpu runs, sizes around the vector width and
 * the threaded chunks; special values as the cpu backend's reference loops give them.
 */
import * as T from "@tessera/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon";
import { configureNative, disableNative, enableNative, type NativeIsa } from "../src/index";
import { info, values } from "./helpers";

const SIZES = [1, 15, 16, 17, 33, 1000, 65536 + 3, 200_000];

/** erf in float64 (Abramowitz & Stegun 7.1.28 is too coarse here: a series / continued fraction to 1e-15). */
function erf64(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let sum = a;
    let term = a;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for |x| >= 3
  let f = a;
  let C = a;
  let D = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    D = a + an * D;
    D = 1 / D;
    C = a + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

// [op, code, definition, relative bound, absolute bound as a function of x]
const OPS: [T.UnaryOp, number, (x: number) => number, number, (x: number) => number][] = [
  ["exp", 0, Math.exp, 3e-7, () => 0],
  ["sigmoid", 1, (x) => 1 / (1 + Math.exp(-x)), 4e-7, () => 1e-30],
  ["silu", 2, (x) => x / (1 + Math.exp(-x)), 4e-7, () => 1e-30],
  // 0.5 |x| times erf's error: A&S 7.1.26's 1.5e-7 plus ~4 float32 roundings of 6e-8 in the polynomial
  ["gelu", 3, (x) => 0.5 * x * (1 + erf64(x / Math.SQRT2)), 4e-7, (x) => 0.5 * Math.abs(x) * (1.5e-7 + 2.4e-7)],
  ["tanh", 4, Math.tanh, 4e-7, () => 1e-7],
  // 0.5 |x| times tanh's float32 error near -1 (1 + tanh cancels): ~2 ulp of 1
  ["gelu_tanh", 5, (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), 4e-7, (x) => 0.5 * Math.abs(x) * 2.4e-7 + 1e-7],
];

describe.skipIf(!info.available)("native element-wise kernels", () => {
  const addon = loadAddon().addon;
  afterAll(() => configureNative({ isa: info.isa ?? undefined, threads: info.threads }));

  for (const isa of info.isas as NativeIsa[]) {
    it(`${isa}: activations within their bounds of the float64 definition`, () => {
      try {
        configureNative({ isa, threads: 2 });
      } catch {
        return; // not on this cpu (the loader never picks it)
      }
      for (const n of SIZES) {
        const x = values(n, n + 11).map((v) => v * 12); // [-12, 12)
        for (const [op, code, def, rel, abs] of OPS) {
          const out = new Float32Array(n);
          addon?.unary(code, x, out);
          for (let i = 0; i < n; i++) {
            const want = def(x[i]);
            const err = Math.abs(out[i] - want);
            if (!(err <= rel * Math.abs(want) + abs(x[i]) + 1e-45)) expect.fail(`${isa} ${op} n=${n} x=${x[i]}: ${out[i]} vs ${want} (error ${err})`);
          }
        }
      }
    });

    it(`${isa}: + - * / are float32 arithmetic, same size and a repeated row`, () => {
      try {
        configureNative({ isa, threads: 2 });
      } catch {
        return;
      }
      for (const n of [16, 17, 1000, 65536 + 48]) {
        const a = values(n, 1);
        for (const nb of [n, 1, ...(n % 16 === 0 ? [16] : [])]) {
          const b = values(nb, 2).map((v) => v + 1.5);
          for (const [code, f] of [
            [0, (p: number, q: number) => p + q],
            [1, (p: number, q: number) => p - q],
            [2, (p: number, q: number) => p * q],
            [3, (p: number, q: number) => p / q],
          ] as [number, (p: number, q: number) => number][]) {
            const out = new Float32Array(n);
            addon?.binary(code, a, b, out);
            for (let i = 0; i < n; i++) if (out[i] !== Math.fround(f(a[i], b[i % nb]))) expect.fail(`${isa} op ${code} n=${n} nb=${nb} at ${i}`);
          }
        }
      }
    });
  }

  it("special values match the cpu backend's reference loops", async () => {
    const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 88.7, 88.8, -87.3, -103, 1e-30, -1e-30, 20, -20];
    const x = T.tensor(Array.from({ length: 1024 }, (_, i) => specials[i % specials.length]));
    for (const [op] of OPS) {
      const f = (t: T.Tensor) =>
        op === "gelu" ? T.gelu(t) : op === "gelu_tanh" ? T.gelu(t, "tanh") : op === "exp" ? T.exp(t) : op === "sigmoid" ? T.sigmoid(t) : op === "silu" ? T.silu(t) : T.tanh(t);
      enableNative();
      const got = T.tidy(() => f(x)).dataSync();
      disableNative();
      const want = T.withKernelPreference("reference", () => T.tidy(() => f(x)).dataSync());
      for (let i = 0; i < specials.length; i++) {
        const [g, w] = [got[i], want[i]];
        if (Number.isNaN(w)) expect(g, `${op}(${specials[i]})`).toBeNaN();
        else if (!Number.isFinite(w)) expect(g, `${op}(${specials[i]})`).toBe(w);
        else expect(Math.abs(g - w), `${op}(${specials[i]}): ${g} vs ${w}`).toBeLessThanOrEqual(1e-6 * Math.abs(w) + 2e-7);
      }
    }
    x.dispose();
  });

  it("strided copies: gathers and scatters of every layout, value for value", () => {
    const src = values(4 * 5 * 6, 3);
    const layouts: [number[], number[], number][] = [
      // [shape, src strides, src offset] (dst dense)
      [[4, 5, 6], [30, 6, 1], 0], // contiguous
      [[6, 5, 4], [1, 6, 30], 0], // full transpose
      [[4, 6, 5], [30, 1, 6], 0], // last two swapped
      [[2, 5, 3], [60, 6, 2], 1], // stepped slice with an offset
      [[4, 5, 6], [-30, 6, -1], 95], // dims 0 and 2 flipped (negative strides)
      [[3, 4, 6], [0, 30, 1], 0], // a broadcast dim (stride 0)
      [[1, 1, 1], [7, 7, 7], 5], // one element
      [[4, 0, 6], [30, 6, 1], 0], // empty
    ];
    for (const [shape, strides, off] of layouts) {
      const n = shape.reduce((p, q) => p * q, 1);
      const dense = shape.map((_, d) => shape.slice(d + 1).reduce((p, q) => p * q, 1));
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let rest = i;
        let at = off;
        for (let d = 0; d < shape.length; d++) {
          const q = Math.floor(rest / dense[d]);
          rest -= q * dense[d];
          at += q * strides[d];
        }
        want[i] = src[at];
      }
      const r = shape.length;
      const layout = Float64Array.from([r, ...shape, ...strides, ...dense]);
      const got = new Float32Array(n);
      addon?.copy(src, off, got, 0, layout);
      expect(Array.from(got), `gather ${shape} ${strides}`).toEqual(Array.from(want));
      // and back: scatter the dense values into a view of a fresh buffer, then gather them again
      const back = new Float32Array(src.length);
      addon?.copy(want, 0, back, off, Float64Array.from([r, ...shape, ...dense, ...strides]));
      const again = new Float32Array(n);
      addon?.copy(back, off, again, 0, layout);
      if (!strides.includes(0)) expect(Array.from(again), `scatter ${shape} ${strides}`).toEqual(Array.from(want));
    }
  });

  it("the addon refuses copies that reach outside their arrays or overlap, and bad codes", () => {
    if (!addon) throw new Error("unreachable");
    const a = new Float32Array(24);
    const b = new Float32Array(24);
    expect(() => addon.copy(a, 1, b, 0, Float64Array.of(3, 2, 3, 4, 12, 4, 1, 12, 4, 1))).toThrow(/reaches outside src or dst/);
    expect(() => addon.copy(a, 0, b, 0, Float64Array.of(2, 5, 5, 5, 1, 5, 1))).toThrow(/reaches outside/);
    expect(() => addon.copy(a, 0, b, 0, Float64Array.of(1, -19, 1, 1))).toThrow(RangeError);
    expect(() => addon.copy(a, 0, b, 0, Float64Array.of(2, 2, 3))).toThrow(/3 x rank numbers/);
    expect(() => addon.copy(a, 0, a.subarray(4), 0, Float64Array.of(1, 8, 1, 1))).toThrow(/must not overlap/);
    expect(() => addon.copy(a, 0, b, 0, Float32Array.of(1, 4, 1, 1) as unknown as Float64Array)).toThrow(/layout must be a Float64Array/);
    expect(() => addon.unary(6, a, b)).toThrow(/op must be a code in \[0, 6\)/);
    expect(() => addon.unary(0, a, b.subarray(1))).toThrow(/out must have x's length/);
    expect(() => addon.unary(0, a, a.subarray(0, 24))).not.toThrow(); // in place
    expect(() => addon.binary(0, a, new Float32Array(5), b)).toThrow(/b's length must divide a's/);
    expect(() => addon.binary(4, a, a, b)).toThrow(/op must be a code in \[0, 4\)/);
    expect(() => addon.binary(0, a, b, b.subarray(0, 24))).not.toThrow(); // out = b
    expect(() => addon.binary(0, a, b.subarray(0, 12), b.subarray(6, 30))).toThrow(RangeError);
    // out = b repeated along a would overwrite b before its last use
    const buf = new Float32Array(16);
    expect(() => addon.binary(0, new Float32Array(16), buf.subarray(0, 4), buf)).toThrow(/be a, or b when b is as long/);
    // a layout whose reach overflows 64 bits when summed is refused, not wrapped
    const big = 2 ** 31 - 1;
    expect(() => addon.copy(a, 0, b, 0, Float64Array.of(4, big, big, big, big, big, big, big, big, 0, 0, 0, 0))).toThrow(/reaches outside/);
  });

  it("the cpu backend routes float32 activations, arithmetic and copies to it (kernelStats) with the reference's results", async () => {
    enableNative();
    const x = T.normal([2, 64, 96], 0, 2, { seed: 1 });
    const bias = T.normal([96], 0, 1, { seed: 2 });
    const cases = (): T.Tensor[] => [
      T.gelu(x),
      T.silu(x),
      T.add(x, bias), // a repeated row
      T.mul(x, x),
      T.div(x, T.add(T.abs(x), 1)),
      T.contiguous(T.transpose(x, 1, 2)), // a gather
      T.sub(x, 3), // a scalar
    ];
    T.resetKernelStats();
    const fast = T.tidy(cases);
    expect(T.kernelStats().kernel["cpuElementwise/cpu"] ?? 0).toBeGreaterThanOrEqual(cases.length);
    disableNative();
    const ref = T.withKernelPreference("reference", () => T.tidy(cases));
    for (let i = 0; i < fast.length; i++) {
      const [f, r] = [fast[i].dataSync(), ref[i].dataSync()];
      for (let j = 0; j < f.length; j++) if (!(Math.abs(f[j] - r[j]) <= 1e-6 * Math.abs(r[j]) + 3e-7)) expect.fail(`case ${i} at ${j}: ${f[j]} vs ${r[j]}`);
    }
    T.dispose([fast, ref, x, bias]);
  });
});

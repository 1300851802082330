/**
 * The addon's products against their definition (float64), for every instruction set this cpu
 * runs and 1-3 threads: row-major and transposed B, with and without bias, ragged sizes around
 * every blocking edge (the register tile, the k-slice of 384, the 192-row tile, the GEMV's
 * 4-row limit and 64-row k-chunks). Bound: the float32 dot-product error bound per element.
 */
import { afterAll, describe, expect, it } from "vitest";
import { configureNative, nativeMatmul, type NativeIsa } from "../src/index";
import { info, reference, values, worst } from "./helpers";

// [M, K, N]
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 768, 300],
  [2, 65, 129],
  [3, 257, 70],
  [4, 1000, 45],
  [5, 7, 3],
  [12, 384, 32],
  [13, 385, 33],
  [25, 769, 95],
  [37, 64, 1000],
  [200, 17, 9],
  [193, 40, 130],
  [6, 3, 17],
  [0, 5, 3],
  [3, 0, 4],
  [4, 5, 0],
];

describe.skipIf(!info.available)("native GEMM / GEMV vs the definition", () => {
  afterAll(() => configureNative({ isa: info.isa ?? undefined, threads: info.threads }));
  for (const isa of info.isas as NativeIsa[]) {
    it(`${isa}: every shape, layout, bias and thread count within the float32 bound`, () => {
      let usable = true;
      try {
        configureNative({ isa });
      } catch {
        usable = false; // this cpu lacks it: the loader never picks it
      }
      if (!usable) {
        expect(info.isas.indexOf(isa)).toBeLessThan(info.isas.indexOf(info.isa as NativeIsa));
        return;
      }
      for (const [M, K, N] of SHAPES)
        for (const transB of [false, true])
          for (const withBias of [false, true]) {
            const a = values(M * K, M * 7 + K);
            const b = values(K * N, K * 13 + N);
            const bias = withBias ? values(N, N + 5) : null;
            const ref = reference(a, b, M, N, K, transB, bias);
            let first: Float32Array | null = null;
            for (const threads of [1, 2, 3]) {
              configureNative({ threads });
              const c = nativeMatmul(a, b, M, N, K, { transB, bias });
              const w = worst(c, ref);
              expect(w.ratio, `${isa} [${M}x${K}]x[${K}x${N}] transB=${transB} bias=${withBias} threads=${threads} at ${w.at}`).toBeLessThanOrEqual(1);
              // Each element sums in the same order on any number of threads: bit-identical.
              if (first) expect(Array.from(c), `threads=${threads} vs 1`).toEqual(Array.from(first));
              else first = c;
            }
          }
    });
  }

  it("a larger GEMM and GEMV (GPT-2 shapes) agree with the definition", () => {
    configureNative({ threads: 2 });
    for (const [M, K, N, transB] of [
      [128, 768, 2304, false],
      [1, 768, 3072, false],
      [1, 3072, 768, true],
      [130, 1536, 96, true],
    ] as [number, number, number, boolean][]) {
      const a = values(M * K, 3);
      const b = values(K * N, 4);
      const bias = values(N, 5);
      const w = worst(nativeMatmul(a, b, M, N, K, { transB, bias }), reference(a, b, M, N, K, transB, bias));
      expect(w.ratio, `[${M}x${K}]x[${K}x${N}] transB=${transB}`).toBeLessThanOrEqual(1);
    }
  });

  it("writes into `out` when given and keeps values past [M, N]", () => {
    const out = new Float32Array(7).fill(9);
    const r = nativeMatmul(Float32Array.of(1, 2), Float32Array.of(3, 4, 5, 6), 1, 2, 2, { out });
    expect(r).toBe(out);
    expect(Array.from(out)).toEqual([13, 16, 9, 9, 9, 9, 9]);
  });

  it("propagates NaN and infinity like the definition (no masked lanes read past the data)", () => {
    const a = Float32Array.of(1, Number.NaN, 2, 3);
    const b = Float32Array.of(1, 1, 1, 1);
    expect(Array.from(nativeMatmul(a, b, 2, 2, 2)).map((v) => Number.isNaN(v))).toEqual([true, true, false, false]);
    const c = nativeMatmul(Float32Array.of(Number.POSITIVE_INFINITY, 1), Float32Array.of(1, 2), 1, 1, 2);
    expect(c[0]).toBe(Number.POSITIVE_INFINITY);
  });
});

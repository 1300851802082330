/**
 * int8 x int8 -> int32 products (exact: the WebAssembly kernel equals the integer reference) and
 * LLM.int8's mixed decomposition: with a few large activation columns, keeping them in float
 * cuts the error of plain int8 activations many times over.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as Q from "../src/index";

beforeAll(async () => {
  await Q.initQuantizedThreads();
});

const randInt8 = (n: number, seed: number) => Int8Array.from(T.randint(-127, 128, [n], { seed, dtype: "int32" }).dataSync());

describe("int8 matmul", () => {
  it("is exact: WASM (threaded for large shapes) equals the integer reference, tails included", () => {
    for (const [M, N, K] of [
      [1, 7, 19],
      [3, 33, 64],
      [5, 300, 1000],
      [2, 1024, 1024],
    ]) {
      const a = randInt8(M * K, M + K);
      const b = randInt8(N * K, N + K);
      expect(Array.from(Q.int8Matmul(a, b, M, N, K))).toEqual(Array.from(Q.int8MatmulReference(a, b, M, N, K)));
    }
    expect(() => Q.int8Matmul(new Int8Array(3), new Int8Array(4), 1, 2, 2)).toThrow(/a holds 3 values and b 4/);
  });
});

describe("LLM.int8", () => {
  it("outlier columns in float: the int8-activation error all but vanishes (weight-only rounding remains)", () => {
    const [M, K, N] = [16, 256, 64];
    const W = T.normal([N, K], 0, 0.05, { seed: 1 });
    const q = Q.quantize(W, { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } });
    const cols = Float32Array.from({ length: K }, (_, k) => (k % 64 === 5 ? 40 : 1)); // four outlier features
    const x = T.mul(T.normal([M, K], 0, 1, { seed: 2 }), T.tensor(cols));
    const ref = T.linear(x, W).dataSync();
    const err = (y: ArrayLike<number>) => Math.sqrt(y.length ? Array.from(y).reduce((s, v, i) => s + (v - ref[i]) ** 2, 0) / y.length : 0);
    const mixed = Q.llmInt8Linear(x, q);
    expect(mixed.outliers).toEqual([5, 69, 133, 197]);
    const plain = Q.llmInt8Linear(x, q, { threshold: Infinity }); // every column int8
    expect(plain.outliers).toEqual([]);
    const weightOnly = T.linear(x, q.dequantize()).dataSync();
    const [em, ep, ew] = [err(mixed.y.dataSync()), err(plain.y.dataSync()), err(weightOnly)];
    console.log(`LLM.int8 RMS error: mixed ${em.toExponential(2)}, all-int8 ${ep.toExponential(2)}, weight-only int8 ${ew.toExponential(2)}`);
    // Weight rounding sets the floor (weight-only); int8 activations add to it only where
    // outliers stretch a row's scale, and the decomposition removes almost all of that.
    expect(ep).toBeGreaterThan(3 * ew);
    expect(em - ew).toBeLessThan((ep - ew) / 20);
    const nf4 = Q.quantize(W, { type: "nf4", blockSize: 64, doubleQuant: false });
    expect(() => Q.llmInt8Linear(x, nf4)).toThrow(/must be int8 symmetric per output channel/);
  });
});

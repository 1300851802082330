/**
 * The cpu backend's WASM SIMD GEMM (with worker threads) against its TypeScript reference
 * kernel, over shapes that hit every edge: ragged 4x8 tiles, K beyond one 256 block, batches
 * folded into M (x @ W) and per-batch products, transposed views and float16 storage.
 * Tolerance: f32 accumulation (SIMD) vs f64 (reference), 1e-5 relative to sqrt(K).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { initCpuThreads } from "../src/backend/cpu/wasm/runtime";

let threads = 1;
beforeAll(async () => {
  threads = await initCpuThreads();
});
afterAll(() => {
  T.setCpuSimd(true);
});

/** The product on the SIMD path and on the reference path, from the same inputs. */
function both(f: () => T.Tensor): [T.Tensor, T.Tensor] {
  seed = 1;
  T.setCpuSimd(true);
  const fast = f();
  seed = 1;
  T.setCpuSimd(false);
  const ref = f();
  T.setCpuSimd(true);
  return [fast, ref];
}

const cases: [string, () => T.Tensor][] = [];
let seed = 1;
const rn = (...shape: number[]) => T.normal(shape, 0, 1, { seed: seed++ });
for (const [m, n, k] of [[13, 17, 40], [4, 8, 32], [5, 9, 1000], [64, 3, 300], [3, 64, 257], [130, 70, 66], [600, 40, 70]]) {
  cases.push([`${m}x${k} @ ${k}x${n}`, () => T.matmul(rn(m, k), rn(k, n))]);
}
cases.push(["batch folded into M: [3,50,64] @ [64,40]", () => T.matmul(rn(3, 50, 64), rn(64, 40))]);
cases.push(["per-batch products: [4,30,64] @ [4,64,20]", () => T.matmul(rn(4, 30, 64), rn(4, 64, 20))]);
cases.push(["broadcast batch dims: [2,1,20,64] @ [3,64,24]", () => T.matmul(rn(2, 1, 20, 64), rn(3, 64, 24))]);
cases.push(["transposed views: A^T B^T", () => T.matmul(T.transpose(rn(64, 40)), T.transpose(rn(30, 64)))]);
cases.push(["linear with bias on [2,33,48]", () => T.linear(rn(2, 33, 48), rn(56, 48), rn(56))]);
cases.push(["float16 operands", () => T.matmul(T.cast(rn(40, 64), "float16"), T.cast(rn(64, 24), "float16"))]);

describe("cpu WASM SIMD matmul vs the TypeScript reference", () => {
  for (const [name, f] of cases) {
    it(name, async () => {
      const [fast, ref] = both(f);
      expect(fast.shape).toEqual(ref.shape);
      expect(fast.dtype).toBe(ref.dtype);
      const K = name.includes("1000") ? 1000 : 300;
      await assertClose(fast, ref, { atol: 2e-6 * Math.sqrt(K), rtol: 1e-5 });
    });
  }

  it("is available here and runs on worker threads", () => {
    expect(T.cpuSimdAvailable()).toBe(true);
    expect(threads).toBeGreaterThanOrEqual(1);
  });

  it("threaded results are bit-identical to one thread (rows are independent)", async () => {
    const a = rn(512, 256);
    const b = rn(256, 300);
    const multi = await T.matmul(a, b).data(); // big enough to use the pool
    // One thread: a product too small to wake the pool gives the same rows as a slice of the big one.
    const top = await T.matmul(T.narrow(a, 0, 0, 8), b).data();
    expect([...top]).toEqual([...multi.subarray(0, 8 * 300)]);
  });
});

/**
 * The cpu backend's WASM SIMD GEMM (with worker threads) against its TypeScript reference
 * kernel, over shapes that hit every edge: ragged 4x8 tiles, K beyond one 256 block, batches
 * folded into M (x @ W) and per-batch products, transposed views and float16 storage.
 * Tolerance: f32 accumulation (SIMD) vs f64 (reference), 1e-5 relative to sqrt(K).
 * The products have a SIMD128 build and a relaxed-SIMD build (fused multiply-add: other rounding,
 * the same bounds); this file runs with the one the runtime has, and again under
 * --experimental-wasm-relaxed-simd (wasm-relaxed-simd.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { initCpuThreads, wasmKernels } from "../src/backend/cpu/wasm/runtime";
import { wasmFeatures } from "../src/backend/cpu/wasm/features";
import { wrap } from "../src/ops/util";
import { backendInstance } from "../src/core/engine";

let threads = 1;
beforeAll(async () => {
  threads = await initCpuThreads();
});
afterAll(() => {
  T.setKernelPreference("fast");
});

/** The product on the SIMD path and on the reference path, from the same inputs. */
function both(f: () => T.Tensor): [T.Tensor, T.Tensor] {
  seed = 1;
  T.setKernelPreference("fast");
  const fast = f();
  seed = 1;
  T.setKernelPreference("reference");
  const ref = f();
  T.setKernelPreference("fast");
  return [fast, ref];
}

const cases: [string, () => T.Tensor][] = [];
let seed = 1;
const rn = (...shape: number[]) => T.normal(shape, 0, 1, { seed: seed++ });
for (const [m, n, k] of [
  [13, 17, 40],
  [4, 8, 32],
  [5, 9, 1000],
  [64, 3, 300],
  [3, 64, 257],
  [130, 70, 66],
  [600, 40, 70],
]) {
  cases.push([`${m}x${k} @ ${k}x${n}`, () => T.matmul(rn(m, k), rn(k, n))]);
}
cases.push(["batch folded into M: [3,50,64] @ [64,40]", () => T.matmul(rn(3, 50, 64), rn(64, 40))]);
cases.push(["per-batch products: [4,30,64] @ [4,64,20]", () => T.matmul(rn(4, 30, 64), rn(4, 64, 20))]);
cases.push(["broadcast batch dims: [2,1,20,64] @ [3,64,24]", () => T.matmul(rn(2, 1, 20, 64), rn(3, 64, 24))]);
cases.push(["transposed views: A^T B^T", () => T.matmul(T.transpose(rn(64, 40)), T.transpose(rn(30, 64)))]);
cases.push(["linear with bias on [2,33,48]", () => T.linear(rn(2, 33, 48), rn(56, 48), rn(56))]);
// Few rows (decoding) take the GEMV kernels, which read B in place: row-major (x @ W) and the
// transpose of a row-major weight (x @ W^T, nn.Linear), odd widths for the tail lanes.
for (const m of [1, 2, 4]) {
  cases.push([`gemv ${m} rows: x @ W [300, 1037]`, () => T.matmul(rn(m, 300), rn(300, 1037))]);
  cases.push([`gemv ${m} rows: linear, W [1037, 301]`, () => T.linear(rn(m, 301), rn(1037, 301), rn(1037))]);
}
cases.push(["gemv batch folded: [2,1,64] @ [64,40]", () => T.matmul(rn(2, 1, 64), rn(64, 40))]);
cases.push(["gemv per-batch transposed: [3,1,64] @ [3,40,64]^T", () => T.matmul(rn(3, 1, 64), T.transpose(rn(3, 40, 64), 1, 2))]);
cases.push(["gemv threaded (N K above the threading threshold): [1,1024] @ [2304,1024]^T", () => T.linear(rn(1, 1024), rn(2304, 1024))]);
cases.push(["gemm with a transposed weight packed in place: [40,64] @ [70,64]^T", () => T.linear(rn(40, 64), rn(70, 64))]);
cases.push(["float16 operands", () => T.matmul(T.cast(rn(40, 64), "float16"), T.cast(rn(64, 24), "float16"))]);
// Half weights (castModel) for decoding: float32 x times float16 / bfloat16 W, read as half bits
// by the half GEMV kernels (wasm/gemv-half.ts); the reference widens W first.
for (const dt of ["float16", "bfloat16"] as const) {
  for (const m of [1, 3]) {
    cases.push([`half gemv ${dt}, ${m} rows: linear, W [1037, 301]`, () => T.linear(rn(m, 301), T.cast(rn(1037, 301), dt), rn(1037))]);
    cases.push([`half gemv ${dt}, ${m} rows: x @ W [300, 1037]`, () => T.matmul(rn(m, 300), T.cast(rn(300, 1037), dt))]);
  }
  cases.push([`half gemv ${dt}: batch folded [2,1,64] @ [64,40]`, () => T.matmul(rn(2, 1, 64), T.cast(rn(64, 40), dt))]);
  cases.push([`half gemv ${dt}: threaded [1,1024] @ [2304,1024]^T`, () => T.linear(rn(1, 1024), T.cast(rn(2304, 1024), dt))]);
  cases.push([`half weight, 8 rows (widened, GEMM): ${dt}`, () => T.linear(rn(8, 300), T.cast(rn(70, 300), dt))]);
  // A weight row with +inf and one with NaN (the float16 kernel's exact path for exponent 31),
  // in both layouts; x is positive so an inf row sums to inf, not NaN.
  const special = () => T.cast(T.concat([rn(30, 64), T.full([1, 64], Infinity), rn(5, 64), T.full([1, 64], NaN), T.mul(rn(3, 64), 1e4)]), dt);
  cases.push([`half gemv ${dt}: inf and NaN weights`, () => T.linear(T.abs(rn(2, 64)), special())]);
  cases.push([`half gemv ${dt}: inf and NaN weights, x @ W`, () => T.matmul(T.abs(rn(2, 64)), T.contiguous(T.transpose(special())))]);
}

describe("cpu WASM SIMD matmul vs the TypeScript reference", () => {
  it("loads the relaxed-SIMD build exactly where wasmFeatures().relaxedSimd, else the SIMD128 build", () => {
    // wasm-relaxed-simd.test.ts reruns this file under --experimental-wasm-relaxed-simd with TESSERA_EXPECT_RELAXED_SIMD=1
    const expected = process.env.TESSERA_EXPECT_RELAXED_SIMD;
    if (expected !== undefined) expect(wasmFeatures().relaxedSimd).toBe(expected === "1");
    expect(wasmKernels()!.relaxed).toBe(wasmFeatures().relaxedSimd);
  });
  for (const [name, f] of cases) {
    it(name, async () => {
      const [fast, ref] = both(f);
      expect(fast.shape).toEqual(ref.shape);
      expect(fast.dtype).toBe(ref.dtype);
      const K = name.includes("1000") ? 1000 : 300;
      await assertClose(fast, ref, { atol: 2e-6 * Math.sqrt(K), rtol: 1e-5 });
    });
  }

  it("half GEMV decodes every finite float16 and bfloat16 pattern exactly (one-hot rows pick weights out)", async () => {
    for (const dtype of ["float16", "bfloat16"] as const) {
      const finite = (h: number) => (dtype === "float16" ? (h & 0x7c00) !== 0x7c00 : (h & 0x7f80) !== 0x7f80);
      const bits = Uint16Array.from({ length: 65536 }, (_, i) => i).filter(finite);
      const N = bits.length / 64;
      const w = wrap(backendInstance("cpu"), backendInstance("cpu").upload(bits, dtype), [N, 64], dtype);
      const y = T.linear(T.eye(4, 64), w); // [4, N]: y[i, n] = W[n, i]
      const want = T.transpose(T.narrow(T.cast(w, "float32"), 1, 0, 4));
      await assertClose(y, want, { atol: 0, rtol: 0, label: `${dtype} patterns` });
    }
  });

  it("is available here and runs on worker threads", () => {
    expect(T.cpuSimdAvailable()).toBe(true);
    expect(threads).toBeGreaterThanOrEqual(1);
  });

  it("GEMMs and packed GEMVs whose threads claim column chunks are bit-identical to one thread's (ragged M and N, several K blocks and chunks, bias, resident and not)", async () => {
    T.setCpuWeightCache(1 << 30);
    const x = rn(37, 600); // 37 rows: a partial row block; K = 600: three 256-deep blocks
    const w = rn(2100, 600); // 2100 columns: 263 panels, the last one partial
    const bias = rn(2100);
    const wIn = rn(600, 300); // a narrow product: 38 panels, chunks of 3
    const x1 = rn(1, 600);
    const x3 = rn(3, 600);
    const x6 = rn(6, 600); // 6 rows: one row block, so only the column split gives it threads
    // GEMMs (column chunks), then packed GEMVs (chunks of 32-column groups; 2100 % 32 = 20 columns in one-panel steps)
    const products = [() => T.linear(x, w, bias), () => T.linear(x, w), () => T.matmul(x, wIn), () => T.linear(x1, w, bias), () => T.linear(x3, w), () => T.linear(x6, w, bias)];
    expect(await initCpuThreads(2)).toBe(2);
    const threaded: Float32Array[] = [];
    for (const f of products) for (let use = 0; use < 3; use++) threaded.push((await T.tidy(f).data()) as Float32Array); // w resident from its second use
    expect(await initCpuThreads(1)).toBe(1);
    try {
      let i = 0;
      for (const f of products)
        for (let use = 0; use < 3; use++, i++) {
          const single = (await T.tidy(f).data()) as Float32Array;
          expect(Buffer.compare(Buffer.from(single.buffer), Buffer.from(threaded[i].buffer)), `product ${Math.floor(i / 3)}, use ${use}`).toBe(0);
        }
    } finally {
      await initCpuThreads(threads);
    }
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

describe("transposed views copied through the WASM transpose", () => {
  const bits = (a: ArrayLike<number>) => Buffer.from(Float32Array.from(a).buffer);
  it("contiguous() of transposed blocks equals the TypeScript loop's copy bit for bit (ragged, batched, strided rows, small)", async () => {
    const wide = rn(2, 37, 90); // a [B, L, 2D] projection, split as Mamba's x and z
    const views: [string, T.Tensor][] = [
      ["[1, 128, 1536] -> [1, 1536, 128]", T.transpose(rn(1, 128, 1536), 1, 2)],
      ["ragged batched [3, 37, 45] -> [3, 45, 37]", T.transpose(rn(3, 37, 45), 1, 2)],
      ["rows apart by more than their length: the z half of [2, 37, 90]", T.transpose(T.narrow(wide, 2, 45, 45), 1, 2)],
      ["a 2-D matrix [203, 61]^T", T.transpose(rn(203, 61))],
      ["under the size threshold [9, 7]^T", T.transpose(rn(9, 7))],
      ["[2, 3, 40, 50] last two swapped", T.transpose(rn(2, 3, 40, 50), 2, 3)],
    ];
    for (const [name, v] of views) {
      const fast = T.contiguous(v);
      const ref = T.withKernelPreference("reference", () => T.contiguous(v));
      expect(fast.shape, name).toEqual(ref.shape);
      expect(Buffer.compare(bits(await fast.data()), bits(await ref.data())), name).toBe(0);
      T.dispose([fast, ref]);
    }
  });

  it("a product whose A is a transposed block (the [B, D, L] -> [B, L, D] reads of a Mamba mixer) equals the product of its contiguous copy", async () => {
    const convY = rn(2, 96, 65); // [B, D, L]: 65 x 96 per batch, above the WASM copy's threshold
    const w = rn(40, 96);
    const a = T.transpose(convY, 1, 2); // [B, L, D], strides [D L, 1, L]
    const viaView = await T.linear(a, w).data();
    const viaCopy = await T.linear(
      T.withKernelPreference("reference", () => T.contiguous(a)),
      w,
    ).data();
    expect(Buffer.compare(bits(viaView), bits(viaCopy))).toBe(0);
    // B per batch entry, and B shared by pairs of entries (a product keeps it packed from one entry
    // to the next in the scratch memory the transpose uses: the copies must all come first)
    const a4 = T.transpose(rn(3, 2, 96, 65), 2, 3); // [3, 2, 65, 96]
    for (const b of [rn(3, 2, 96, 40), rn(3, 1, 96, 40), rn(96, 40)]) {
      const view = await T.matmul(a4, b).data();
      const copy = await T.matmul(
        T.withKernelPreference("reference", () => T.contiguous(a4)),
        b,
      ).data();
      expect(Buffer.compare(bits(view), bits(copy)), `B ${b.shape}`).toBe(0);
    }
  });
});

describe("cpu WASM SIMD row and elementwise kernels vs the TypeScript reference", () => {
  const big = (shape: number[], scale = 3) => T.mul(T.normal(shape, 0, 1, { seed: seed++ }), scale);
  const rowCases: [string, () => T.Tensor, number][] = [
    ["softmax rows of 1027 (tail lanes)", () => T.softmax(big([9, 1027])), 2e-6],
    ["log-softmax", () => T.logSoftmax(big([33, 517])), 2e-5],
    ["softmax of 1e4-scale logits and masked entries", () => T.softmax(T.where(T.gt(big([17, 300]), 2), -Infinity, T.mul(big([17, 300]), 3e3))), 2e-6],
    ["softmax of fully masked rows is NaN", () => T.softmax(T.concat([T.full([2, 3000], -Infinity), big([3, 3000])], 0)), 2e-6],
    ["layerNorm with weight and bias (odd D)", () => T.layerNorm(big([40, 301]), big([301], 1), big([301], 1)), 2e-5],
    ["layerNorm without affine", () => T.layerNorm(big([8, 1024])), 2e-5],
    ["rmsNorm with weight", () => T.rmsNorm(big([12, 999]), big([999], 1), 1e-5), 2e-5],
  ];
  for (const op of ["exp", "sigmoid", "silu", "tanh"] as const)
    rowCases.push([`unary ${op}`, () => (T as unknown as Record<string, (x: T.Tensor) => T.Tensor>)[op](big([5003])), 3e-6]);
  rowCases.push(["gelu (erf)", () => T.gelu(big([5003])), 3e-6], ["gelu (tanh)", () => T.gelu(big([5003]), "tanh"), 3e-6]);
  // 2^n for n = 128 (x > 88.376) once overflowed to inf; 88.72283 is the largest float with a finite exp.
  rowCases.push([
    "exp near the float32 overflow and underflow bounds",
    () => T.exp(T.concat([T.linspace(88, 88.72283, 5000), T.linspace(88.7229, 89, 100), T.linspace(-87.3, -80, 1000)])),
    3e-6,
  ]);
  // softmax's exp of x - max <= 0 (wasm/exp-nonpos.ts) over its whole range: softmax([x, 0])[0] =
  // exp(x) / (1 + exp(x)), from 0 down to below the cutoff (-87.33654) where it is exactly 0.
  rowCases.push(["softmax's exp(x - max) from 0 to below the float32 cutoff", () => T.softmax(T.stack([T.linspace(-90, 0, 20011), T.zeros([20011])], 1)), 2e-6]);
  rowCases.push(["softmax of rows holding NaN is NaN", () => T.softmax(T.where(T.gt(big([4, 2000]), 8), NaN, big([4, 2000]))), 2e-6]);
  // Past one streamed chunk (64K values) the rows are pipelined over threads (runtime.ts streamRows):
  // [301, 1027] is 5 chunks of 63 rows, the last ragged; 300001 values are 292 rows of 1024 and a tail.
  rowCases.push(
    ["softmax streamed in chunks over threads ([301, 1027])", () => T.softmax(big([301, 1027])), 2e-6],
    ["log-softmax streamed in chunks over threads", () => T.logSoftmax(big([301, 1027])), 2e-5],
    ["layerNorm streamed in chunks over threads", () => T.layerNorm(big([301, 1027]), big([1027], 1), big([1027], 1)), 2e-5],
    ["gelu streamed in chunks over threads (300001 values)", () => T.gelu(big([300001])), 3e-6],
  );
  rowCases.push(["exp of large, tiny and NaN inputs", () => T.exp(T.concat([T.full([2000], 100), T.full([2000], -200), T.full([100], NaN), big([1000], 10)])), 3e-6]);

  it("softmax's exp(x - max) is within 4e-7 relative of the reference down to 2^-126 (atol 0)", async () => {
    const x = T.linspace(-87.3, 0, 40009);
    const [fast, ref] = both(() => T.narrow(T.softmax(T.stack([x, T.zeros([40009])], 1)), 1, 0, 1)); // exp(x) / (exp(x) + 1)
    const [f, r] = [await fast.data(), await ref.data()];
    let worst = 0;
    for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(f[i] - r[i]) / r[i]);
    expect(worst).toBeLessThan(4e-7);
  });

  for (const [name, f, tol] of rowCases) {
    it(name, async () => {
      const [fast, ref] = both(f);
      expect(fast.shape).toEqual(ref.shape);
      await assertClose(fast, ref, { atol: tol, rtol: tol });
    });
  }

  it("rows pipelined over threads are bit-identical to one thread's", async () => {
    const x = big([301, 1027]);
    const ops = [(t: T.Tensor) => T.softmax(t), (t: T.Tensor) => T.layerNorm(t), (t: T.Tensor) => T.gelu(t)];
    expect(await initCpuThreads(2)).toBe(2); // a worker even on one core: the pipelined path runs
    expect(wasmKernels()?.pool?.workers).toBe(1);
    const threaded = await Promise.all(ops.map((op) => op(x).data()));
    expect(await initCpuThreads(1)).toBe(1); // a new count replaces the pool: no workers now
    expect(wasmKernels()?.pool ?? null).toBeNull();
    try {
      const single = await Promise.all(ops.map((op) => op(x).data()));
      for (let i = 0; i < ops.length; i++) expect(Buffer.compare(Buffer.from(single[i].buffer), Buffer.from(threaded[i].buffer))).toBe(0);
    } finally {
      await initCpuThreads(threads);
    }
  });
});

describe("weights resident in WASM memory", () => {
  const rnd = (shape: number[], s: number) => T.normal(shape, 0, 1, { seed: s });
  /** x @ W^T on the reference path. */
  const reference = (x: T.Tensor, w: T.Tensor) => {
    T.setKernelPreference("reference");
    const y = T.linear(x, w);
    T.setKernelPreference("fast");
    return y;
  };

  it("a weight used twice becomes resident; in-place writes, frees and zero-copy views never serve stale values", async () => {
    T.setCpuWeightCache(1 << 30);
    const w = rnd([1000, 300], 1); // 1.2 MB: above the residency threshold
    for (const rows of [1, 3, 16]) {
      const x = rnd([rows, 300], 2 + rows);
      for (let i = 0; i < 3; i++) await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5, label: `rows ${rows} use ${i}` });
    }
    expect(T.cpuWeightCacheStats().bytes).toBeGreaterThanOrEqual(1000 * 300 * 4);
    const x = rnd([1, 300], 9);
    // assign (what the optimizers do) writes the storage in place.
    T.assign(w, T.mul(w, -2));
    await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5, label: "after assign" });
    await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5, label: "after assign, resident again" });
    // A zero-copy ndarray view lets the caller write the storage: it is never resident again.
    const nd = T.toNdarray(w);
    (nd.data as Float32Array)[0] += 100;
    await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5, label: "after an ndarray write" });
    // A freed weight's array returns from the pool with new contents.
    const w2 = rnd([1000, 300], 20);
    T.linear(x, w2);
    T.linear(x, w2);
    w2.dispose();
    const w3 = rnd([1000, 300], 21); // likely the same pooled array
    T.linear(x, w3);
    await assertClose(T.linear(x, w3), reference(x, w3), { atol: 1e-4, rtol: 1e-5, label: "after free and reuse" });
  });

  it("a half weight becomes resident at 2 bytes an element, and an in-place write drops it", async () => {
    T.setCpuWeightCache(1 << 30);
    const w = T.cast(rnd([1000, 300], 50), "float16");
    const x = rnd([2, 300], 51);
    const before = T.cpuWeightCacheStats().bytes;
    for (let i = 0; i < 3; i++) await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5, label: `use ${i}` });
    const grown = T.cpuWeightCacheStats().bytes - before;
    expect(grown).toBeGreaterThanOrEqual(1000 * 300 * 2);
    expect(grown).toBeLessThan(1000 * 300 * 4);
    T.assign(w, T.cast(T.mul(w, -3), "float16"));
    await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5, label: "after assign" });
  });

  it("a budget smaller than the weights still gives right answers; 0 turns residency off", async () => {
    const ws = [0, 1, 2].map((i) => rnd([600, 256], 30 + i)); // 600 KB each
    T.setCpuWeightCache(1.5e6); // room for two: the third clears and refills
    const x = rnd([2, 256], 40);
    for (let round = 0; round < 3; round++) for (const w of ws) await assertClose(T.linear(x, w), reference(x, w), { atol: 1e-4, rtol: 1e-5 });
    expect(T.cpuWeightCacheStats().bytes).toBeLessThanOrEqual(1.5e6);
    T.setCpuWeightCache(0);
    for (const w of ws) T.linear(x, w);
    expect(T.cpuWeightCacheStats()).toEqual({ bytes: 0, budget: 0 });
    T.setCpuWeightCache(1 << 30);
    expect(() => T.setCpuWeightCache(-1)).toThrow(/bytes must be >= 0/);
  });

  it("reserveResident drops the caches marked evictFirst before the others; storageWritten / forgetStorage reach every registered cache", () => {
    class Cache implements T.ResidentCache {
      bytes = 0;
      forgotten: unknown[] = [];
      writes: T.WrittenView[] = [];
      listening = true; // registered for good: stop recording after this test
      constructor(readonly evictFirst: boolean) {}
      clear() {
        this.bytes = 0;
      }
      forgetStorage(arr: unknown) {
        if (this.listening) this.forgotten.push(arr);
      }
      storageWritten(_arr: unknown, at: T.WrittenView) {
        if (this.listening) this.writes.push(at);
      }
    }
    T.setCpuWeightCache(1000); // drops everything kept
    const [cheap, dear] = [new Cache(true), new Cache(false)];
    T.registerResidentCache(cheap);
    T.registerResidentCache(dear);
    try {
      expect(T.reserveResident(dear, 500)).toBe(true);
      dear.bytes = 500;
      expect(T.reserveResident(cheap, 400)).toBe(true);
      cheap.bytes = 400;
      expect(T.reserveResident(dear, 300)).toBe(true); // 1200 > 1000: the cheap one goes, not the dear one
      expect([cheap.bytes, dear.bytes]).toEqual([0, 500]);
      dear.bytes = 800;
      expect(T.reserveResident(dear, 300)).toBe(true); // still short after the cheap ones: everything goes
      expect(dear.bytes).toBe(0);
      expect(T.reserveResident(dear, 1001)).toBe(false); // beyond the whole budget: keep nothing
      // The cpu backend's writes, frees and zero-copy lending reach the caches.
      const t = T.zeros([4, 3]);
      const arr = t.storage.data;
      T.assign(T.narrow(t, 0, 2, 1), T.ones([1, 3]));
      expect(dear.writes.at(-1)).toMatchObject({ offset: 6, shape: [1, 3], strides: [3, 1] });
      T.toNdarray(t);
      expect(dear.forgotten.at(-1)).toBe(arr);
      expect(T.residentEligible(t)).toBe(false); // lent out: written without notice from now on
      expect(T.residentEligible(T.zeros([2]))).toBe(true);
      expect(() => T.registerResidentCache({ storageWritten() {} } as never)).toThrow(/registerResidentCache: a ResidentCache needs `bytes`/);
    } finally {
      cheap.listening = dear.listening = false;
      T.setCpuWeightCache(1 << 30);
    }
  });
});

describe("packed resident weights and the fused bias epilogue", () => {
  const rnd = (shape: number[], s: number) => T.normal(shape, 0, 1, { seed: s });
  const onReference = <R>(f: () => R): R => T.withKernelPreference("reference", f);

  // Weights above the residency threshold are packed once on their second use and then read from
  // the panels by both the GEMM and the GEMV: ragged N (not a multiple of 8), both layouts, with
  // and without bias, 1..4 rows (GEMV) and 16 / 37 rows (GEMM); then a size that splits over threads.
  const layouts: [string, (x: T.Tensor, w: T.Tensor, b: T.Tensor | null) => T.Tensor, number[]][] = [
    ["linear (W [out, in], packed from W^T)", (x, w, b) => T.linear(x, w, b), [1037, 301]],
    ["affine (W [in, out])", (x, w, b) => T.affine(x, w, b), [301, 1037]],
  ];
  for (const [name, f, wShape] of layouts) {
    for (const withBias of [false, true]) {
      it(`${name}${withBias ? " + bias" : ""}: repeated uses (resident, packed) match the reference`, async () => {
        T.setCpuWeightCache(1 << 30);
        const w = rnd(wShape, 60);
        const b = withBias ? rnd([1037], 61) : null;
        for (const rows of [1, 2, 4, 16, 37]) {
          const x = rnd([rows, 301], 62 + rows);
          const want = onReference(() => f(x, w, b));
          for (let i = 0; i < 3; i++) await assertClose(f(x, w, b), want, { atol: 2e-6 * Math.sqrt(301), rtol: 1e-5, label: `${rows} rows, use ${i}` });
        }
        expect(T.cpuWeightCacheStats().bytes).toBeGreaterThanOrEqual(1037 * 301 * 4);
      });
    }
  }

  it("threaded packed GEMV and GEMM with bias (ragged N = 2307, K = 1024) match the reference", async () => {
    T.setCpuWeightCache(1 << 30);
    const w = rnd([1024, 2307], 80);
    const b = rnd([2307], 81);
    const wOutIn = T.contiguous(T.transpose(w)); // [2307, 1024]: packed from W^T
    for (const rows of [1, 3, 20]) {
      const x = rnd([rows, 1024], 82 + rows);
      const want = onReference(() => T.affine(x, w, b));
      const wantT = onReference(() => T.linear(x, wOutIn, b));
      for (let i = 0; i < 3; i++) {
        await assertClose(T.affine(x, w, b), want, { atol: 2e-6 * Math.sqrt(1024), rtol: 1e-5, label: `${rows} rows, use ${i}` });
        await assertClose(T.linear(x, wOutIn, b), wantT, { atol: 2e-6 * Math.sqrt(1024), rtol: 1e-5, label: `linear, ${rows} rows, use ${i}` });
      }
    }
  });

  it("per-batch products sharing one resident weight (A not foldable into rows) match the reference on every use", async () => {
    T.setCpuWeightCache(1 << 30);
    const w = rnd([300, 1037], 90); // above the residency threshold
    const a = T.permute(rnd([40, 3, 300], 91), [1, 0, 2]); // [3, 40, 300], batch stride 300: not foldable
    const want = onReference(() => T.matmul(a, w));
    for (let i = 0; i < 3; i++) await assertClose(T.matmul(a, w), want, { atol: 2e-6 * Math.sqrt(300), rtol: 1e-5, label: `use ${i}` });
  });

  it("affine and linear with a bias equal matmul + add, batched, forward and gradients", async () => {
    const x = rnd([2, 9, 48], 70);
    const w = rnd([48, 40], 71);
    const b = rnd([40], 72);
    const grads = (f: (x: T.Tensor, w: T.Tensor, b: T.Tensor) => T.Tensor) => {
      const r = T.valueAndGrad((x: T.Tensor, w: T.Tensor, b: T.Tensor) => T.sum(T.mul(f(x, w, b), T.cos(f(x, w, b)))))(x, w, b);
      return [r.value, ...r.grads];
    };
    const fused = grads((x, w, b) => T.affine(x, w, b));
    const composed = grads((x, w, b) => T.add(T.matmul(x, w), b));
    for (let i = 0; i < fused.length; i++) await assertClose(fused[i], composed[i], { atol: 1e-5, rtol: 1e-5, label: `output ${i}` });
    const lin = grads((x, w, b) => T.linear(x, T.transpose(w), b));
    for (let i = 0; i < lin.length; i++) await assertClose(lin[i], composed[i], { atol: 1e-5, rtol: 1e-5, label: `linear output ${i}` });
  });

  it("affine names the op, argument and shapes in its errors", () => {
    expect(() => T.affine(rnd([2, 5], 1), rnd([4, 3], 2))).toThrow(/affine.*x \[2, ?5\] has 5 features but weight \[4, ?3\]/);
    expect(() => T.affine(rnd([2, 4], 1), rnd([4, 3], 2), rnd([4], 3))).toThrow(/affine.*bias \[4\] must be \[3\]/);
    expect(() => T.affine(rnd([2, 4], 1), rnd([4], 2))).toThrow(/affine.*weight must be 2-D/);
  });
});

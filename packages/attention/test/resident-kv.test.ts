/**
 * Key / value caches kept resident in the fused attention's WASM memory between decode steps
 * (src/flash-wasm/resident-kv.ts). A resident cache must give exactly what copying it in each
 * step gives (same kernel, same values: bit-identical), and must follow every change of the
 * storage the cpu backend reports: appended rows, rows rewritten after an append rollback,
 * `assign`, frees and zero-copy lending. Reference: the composed attention (TypeScript loops)
 * on contiguous copies, within 1e-5.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { scaledDotProductAttention as sdpa } from "../src/index";
import { flashWasm } from "../src/flash-wasm/runtime";
import { firstRowTouched } from "../src/flash-wasm/resident-kv";

const rn = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed });
const kernel = () => flashWasm()!;
const DEFAULT_BUDGET = T.wasmWeightBudget().budget;

afterEach(() => {
  T.setWasmWeightBudget(DEFAULT_BUDGET);
});

/** The fused kernel's output for one decode step, and the composed reference's on contiguous copies. */
function step(q: T.Tensor, k: T.Tensor, v: T.Tensor): { out: T.Tensor; ref: T.Tensor; resident: number } {
  const out = sdpa(q, k, v, { causal: true, implementation: "tiled" });
  const resident = kernel().lastResident;
  expect(kernel().lastForward).toBe("decode");
  const ref = T.withKernelPreference("reference", () => sdpa(q, T.contiguous(k), T.contiguous(v), { causal: true, implementation: "reference" }));
  return { out, ref, resident };
}

/** The same step from fresh contiguous copies (first sightings: the copy-in path), for bit-identity. */
function copiedIn(q: T.Tensor, k: T.Tensor, v: T.Tensor): Float32Array {
  return T.tidy(() => {
    const out = sdpa(q, T.contiguous(k), T.contiguous(v), { causal: true, implementation: "tiled" });
    expect(kernel().lastResident).toBe(0);
    return out.dataSync() as Float32Array;
  });
}

describe("firstRowTouched: the first mirrored row a write may change", () => {
  // A mirror of 3 heads of 10 rows x 4 floats, head stride 48 (capacity 12), at element 96.
  const m = { offset: 96, stride: 48, heads: 3, D: 4 };
  /** The exact answer from the definition: every element the view writes, mapped to (head, row). */
  function exact(w: T.WrittenView): number {
    let first = Number.POSITIVE_INFINITY;
    const idx = new Array(w.shape.length).fill(0);
    const n = w.shape.reduce((a, b) => a * b, 1);
    for (let e = 0; e < n; e++) {
      let o = w.offset;
      for (let d = 0; d < idx.length; d++) o += idx[d] * w.strides[d];
      const rel = o - m.offset;
      if (rel >= 0 && rel < m.heads * m.stride) first = Math.min(first, Math.floor((rel % m.stride) / m.D));
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < w.shape[d]) break;
        idx[d] = 0;
      }
    }
    return first;
  }
  const cases: [string, T.WrittenView][] = [
    ["append of 1 row to every head at row 7 ([1, 3, 1, 4] of a [1, 3, 12, 4] buffer)", { offset: 96 + 7 * 4, shape: [1, 3, 1, 4], strides: [144, 48, 4, 1] }],
    ["append of 3 rows at row 2", { offset: 96 + 2 * 4, shape: [1, 3, 3, 4], strides: [144, 48, 4, 1] }],
    ["one element of head 2, row 5", { offset: 96 + 2 * 48 + 5 * 4 + 1, shape: [1], strides: [1] }],
    ["a column (strided, stride 4) of head 1 from row 6", { offset: 96 + 48 + 6 * 4 + 2, shape: [4], strides: [4] }],
    ["elements before the mirror only", { offset: 0, shape: [96], strides: [1] }],
    ["elements after the mirror only", { offset: 96 + 144, shape: [10], strides: [1] }],
    ["an empty write", { offset: 96, shape: [0, 4], strides: [4, 1] }],
    ["reversed rows (negative stride) of head 0, rows 9..3", { offset: 96 + 9 * 4, shape: [7, 4], strides: [-4, 1] }],
  ];
  for (const [name, w] of cases) {
    it(`exact: ${name}`, () => {
      expect(firstRowTouched(m, w)).toBe(exact(w));
    });
  }

  it("never later than the exact answer (0 where it cannot tell cheaply): 300 random strided writes", () => {
    let s = 12345;
    const rand = (n: number) => {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      return s % n;
    };
    let exactCount = 0;
    for (let i = 0; i < 300; i++) {
      const rank = 1 + rand(3);
      const shape = Array.from({ length: rank }, () => 1 + rand(5));
      const strides = Array.from({ length: rank }, () => (rand(2) === 0 ? 1 : (rand(2) ? 1 : -1) * (1 + rand(60))));
      const w = { offset: rand(300), shape, strides };
      // keep the written elements inside a plausible array (offsets >= 0)
      let lo = w.offset;
      for (let d = 0; d < rank; d++) if (strides[d] < 0) lo += (shape[d] - 1) * strides[d];
      if (lo < 0) continue;
      const got = firstRowTouched(m, w);
      const want = exact(w);
      expect(got, JSON.stringify(w)).toBeLessThanOrEqual(want);
      if (got === want) exactCount++;
    }
    expect(exactCount).toBeGreaterThan(100);
  });
});

describe("resident key / value caches in flash_decode", () => {
  // A GPT-2-sized step with GQA: 12 query heads over 4 key heads, D 64, B 2.
  const [B, H, Hkv, D] = [2, 12, 4, 64];

  it("a decode loop over an append cache: resident from the second step, each step equal to the copy-in path (bit-identical) and to the reference (1e-5)", async () => {
    T.setWasmWeightBudget(DEFAULT_BUDGET); // drops whatever is kept: start from no resident bytes
    expect(kernel().kv.bytes).toBe(0);
    let k = T.append(null, rn([B, Hkv, 20, D], 1), 2);
    let v = T.append(null, rn([B, Hkv, 20, D], 2), 2);
    const residents: number[] = [];
    for (let t = 0; t < 12; t++) {
      const q = rn([B, H, 1, D], 100 + t);
      const { out, ref, resident } = step(q, k, v);
      residents.push(resident);
      await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: `step ${t}` });
      expect(out.dataSync()).toEqual(copiedIn(q, k, v));
      const [k2, v2] = [T.append(k, rn([B, Hkv, 1, D], 200 + t), 2), T.append(v, rn([B, Hkv, 1, D], 300 + t), 2)];
      T.dispose([q, out, ref, k, v]); // as generate() does: the old step's handles go
      [k, v] = [k2, v2];
    }
    expect(residents).toEqual([0, ...new Array(11).fill(2)]);
    expect(kernel().kv.bytes).toBe(2 * 4 * B * Hkv * T.appendCapacity(20) * D); // k and v: every head's full capacity
    // Freeing the caches drops their copies (nothing else is kept here: back to no bytes).
    T.dispose([k, v]);
    expect(kernel().kv.bytes).toBe(0);
  });

  it("rows rewritten after an append rollback are read anew (the backend reports the write)", async () => {
    const base = T.append(null, rn([B, Hkv, 30, D], 3), 2);
    const vals = T.append(null, rn([B, Hkv, 30, D], 4), 2);
    const q = rn([B, H, 1, D], 5);
    // Branch 1: one appended row, read twice (resident, rows 0..30 mirrored).
    let k1 = T.append(base, rn([B, Hkv, 1, D], 6), 2);
    let v1 = T.append(vals, rn([B, Hkv, 1, D], 7), 2);
    step(q, k1, v1);
    expect(step(q, k1, v1).resident).toBe(2);
    // Drop branch 1: the next append takes its row back and writes other values there.
    T.dispose([k1, v1]);
    k1 = T.append(base, rn([B, Hkv, 1, D], 8), 2);
    v1 = T.append(vals, rn([B, Hkv, 1, D], 9), 2);
    expect(k1.storage).toBe(base.storage); // in place: the same buffer, so the same resident copy
    const { out, ref, resident } = step(q, k1, v1);
    expect(resident).toBe(2);
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "after rollback" });
    expect(out.dataSync()).toEqual(copiedIn(q, k1, v1));
  });

  it("assign into a resident cache's early rows is seen by the next step", async () => {
    const k = T.append(null, rn([B, Hkv, 16, D], 10), 2);
    const v = T.append(null, rn([B, Hkv, 16, D], 11), 2);
    const q = rn([B, H, 1, D], 12);
    step(q, k, v);
    const first = step(q, k, v);
    expect(first.resident).toBe(2);
    // Overwrite row 3 of every head of k's buffer (a view of the same storage).
    T.assign(T.narrow(k, 2, 3, 1), T.full([B, Hkv, 1, D], 2.5));
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(2);
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "after assign" });
    expect(await out.data()).not.toEqual(await first.out.data());
    expect(out.dataSync()).toEqual(copiedIn(q, k, v));
  });

  it("memory lent out zero-copy (toNdarray) is dropped and never kept again; memory lent in (fromNdarray) is never kept", async () => {
    const k = T.append(null, rn([1, 2, 8, 16], 13), 2);
    const v = T.append(null, rn([1, 2, 8, 16], 14), 2);
    const q = rn([1, 2, 1, 16], 15);
    step(q, k, v);
    expect(step(q, k, v).resident).toBe(2);
    const nd = T.toNdarray(k); // the caller may now write k's buffer without telling anyone
    (nd.data as Float32Array)[0] = 42; // row 0 of head 0
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(1); // v only
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "after lending k" });
    const lent = T.fromNdarray({ data: new Float32Array(2 * 8 * 16).fill(0.5), shape: [1, 2, 8, 16], stride: [256, 128, 16, 1], offset: 0 });
    step(q, lent, v);
    expect(step(q, lent, v).resident).toBe(1);
  });

  it("budget 0 keeps nothing; a budget too small for a cache keeps nothing; the results do not change", async () => {
    const k = T.append(null, rn([B, Hkv, 40, D], 16), 2);
    const v = T.append(null, rn([B, Hkv, 40, D], 17), 2);
    const q = rn([B, H, 1, D], 18);
    T.setWasmWeightBudget(0);
    step(q, k, v);
    expect(step(q, k, v).resident).toBe(0);
    T.setWasmWeightBudget(1000); // below one cache's buffer
    step(q, k, v);
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(0);
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "small budget" });
    T.setWasmWeightBudget(DEFAULT_BUDGET);
    expect(step(q, k, v).resident).toBe(2);
  });

  it("a cache takes only the budget the resident weights leave: it never makes them drop (they stay; the cache is copied in)", async () => {
    T.setWasmWeightBudget(DEFAULT_BUDGET);
    const w = rn([512, 256], 30); // an nn.Linear weight, kept packed in the cpu backend's memory from its second product
    const x = rn([1, 256], 31);
    for (let i = 0; i < 2; i++) T.linear(x, w).dispose();
    const weights = T.cpuWeightCacheStats().bytes;
    expect(weights).toBeGreaterThan(0);
    const k = T.append(null, rn([B, Hkv, 40, D], 32), 2);
    const v = T.append(null, rn([B, Hkv, 40, D], 33), 2);
    const q = rn([B, H, 1, D], 34);
    T.setWasmWeightBudget(weights + 1000); // drops everything: bring the weights back
    for (let i = 0; i < 2; i++) T.linear(x, w).dispose();
    expect(T.cpuWeightCacheStats().bytes).toBe(weights);
    step(q, k, v);
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(0);
    expect(T.cpuWeightCacheStats().bytes).toBe(weights);
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "cache not kept" });
  });

  it("a weight admitted after the caches takes their room: the caches go first (evictFirst), the weights kept before stay", async () => {
    T.setWasmWeightBudget(DEFAULT_BUDGET);
    const [w1, w2] = [rn([512, 256], 50), rn([512, 256], 55)];
    const x = rn([1, 256], 51);
    const use = (w: T.Tensor) => {
      for (let i = 0; i < 2; i++) T.linear(x, w).dispose(); // kept from the second product
    };
    use(w1);
    const one = T.cpuWeightCacheStats().bytes;
    const k = T.append(null, rn([B, Hkv, 40, D], 52), 2);
    const v = T.append(null, rn([B, Hkv, 40, D], 53), 2);
    const q = rn([B, H, 1, D], 54);
    const cacheBytes = 2 * 4 * B * Hkv * T.appendCapacity(40) * D;
    T.setWasmWeightBudget(2 * one + cacheBytes - 1000); // both weights, or one and the caches; drops everything
    use(w1);
    step(q, k, v);
    expect(step(q, k, v).resident).toBe(2); // w1 and the caches
    use(w2); // needs the caches' room: they make way, w1 stays
    expect(T.cpuWeightCacheStats().bytes).toBe(2 * one);
    expect(kernel().kv.bytes).toBe(0);
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(0); // no room left: copied in, the weights stay
    expect(T.cpuWeightCacheStats().bytes).toBe(2 * one);
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "after the weights" });
  });

  it("heads broadcast by expand (stride 0, multi-query) are never kept (they overlap): results as copied in", async () => {
    const cache = T.append(null, rn([1, 1, 24, D], 60), 2);
    const vals = T.append(null, rn([1, 1, 24, D], 61), 2);
    const [k, v] = [T.expand(cache, [1, H, 24, D]), T.expand(vals, [1, H, 24, D])];
    expect(T.float32Blocks(k, 2)?.stride).toBe(0);
    const q = rn([1, H, 1, D], 62);
    step(q, k, v);
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(0);
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "expanded heads" });
  });

  it("one key / value head (B * Hkv = 1) is kept from the second step as its cache grows", async () => {
    T.setWasmWeightBudget(DEFAULT_BUDGET);
    let k = T.append(null, rn([1, 1, 10, D], 63), 2);
    let v = T.append(null, rn([1, 1, 10, D], 64), 2);
    const residents: number[] = [];
    for (let t = 0; t < 5; t++) {
      const q = rn([1, 4, 1, D], 70 + t);
      const { out, ref, resident } = step(q, k, v);
      residents.push(resident);
      await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: `step ${t}` });
      const [k2, v2] = [T.append(k, rn([1, 1, 1, D], 80 + t), 2), T.append(v, rn([1, 1, 1, D], 90 + t), 2)];
      T.dispose([k, v]);
      [k, v] = [k2, v2];
    }
    expect(residents).toEqual([0, 2, 2, 2, 2]);
    expect(kernel().kv.bytes).toBe(2 * 4 * T.appendCapacity(10) * D);
  });

  it("k and v the same tensor: one resident copy (also when admitted again after a clear)", async () => {
    T.setWasmWeightBudget(DEFAULT_BUDGET);
    const kv = T.append(null, rn([1, 2, 12, 16], 100), 2);
    const q = rn([1, 2, 1, 16], 101);
    step(q, kv, kv);
    expect(step(q, kv, kv).resident).toBe(2);
    const one = 4 * 2 * T.appendCapacity(12) * 16;
    expect(kernel().kv.bytes).toBe(one);
    kernel().kv.clear();
    expect(step(q, kv, kv).resident).toBe(2);
    expect(kernel().kv.bytes).toBe(one);
  });

  it("when the call's own memory cannot grow past the resident caches, they are dropped and k, v copied in (no error)", async () => {
    T.setWasmWeightBudget(DEFAULT_BUDGET);
    const k = T.append(null, rn([B, Hkv, 20, D], 110), 2);
    const v = T.append(null, rn([B, Hkv, 20, D], 111), 2);
    const q = rn([B, H, 1, D], 112);
    step(q, k, v);
    expect(step(q, k, v).resident).toBe(2);
    const fw = kernel() as unknown as { grow(bytes: number): Float32Array };
    const grow = fw.grow;
    let refused = 0;
    fw.grow = function (this: unknown, bytes: number) {
      if (kernel().kv.bytes > 0) {
        refused++;
        throw new Error("growth refused (test)");
      }
      return grow.call(this, bytes);
    };
    try {
      const { out, ref, resident } = step(q, k, v);
      expect(refused).toBe(1);
      expect(resident).toBe(0);
      expect(kernel().kv.bytes).toBe(0);
      await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: "copied in after the refusal" });
    } finally {
      fw.grow = grow;
    }
  });

  it("the room of freed caches is reclaimed when a new cache needs it (the live ones come back at their next step)", async () => {
    const shape = [1, 2, 8, 16];
    const cacheBytes = 2 * 4 * 2 * T.appendCapacity(8) * 16; // k and v, every head's full capacity
    T.setWasmWeightBudget(2 * cacheBytes + 100); // room for two caches' k and v, not three
    const q = rn([1, 2, 1, 16], 40);
    const make = (seed: number) => [T.append(null, rn(shape, seed), 2), T.append(null, rn(shape, seed + 1), 2)];
    const [ka, va] = make(41);
    const [kb, vb] = make(43);
    for (const [k, v] of [
      [ka, va],
      [kb, vb],
    ]) {
      step(q, k, v);
      expect(step(q, k, v).resident).toBe(2);
    }
    expect(kernel().kv.bytes).toBe(2 * cacheBytes);
    T.dispose([kb, vb]); // b's copies are forgotten, their room not yet reused (a's lie above it)
    expect(kernel().kv.bytes).toBe(2 * cacheBytes);
    const [kc, vc] = make(45);
    step(q, kc, vc);
    const c = step(q, kc, vc);
    expect(c.resident).toBe(2); // a's and b's room reclaimed, c kept
    await assertClose(c.out, c.ref, { atol: 1e-5, rtol: 1e-5, label: "c" });
    const a = step(q, ka, va);
    expect(a.resident).toBe(2); // a kept again at its next step
    await assertClose(a.out, a.ref, { atol: 1e-5, rtol: 1e-5, label: "a" });
    expect(kernel().kv.bytes).toBe(2 * cacheBytes);
  });

  it("a tensor's storage freed and reused by the pool is not mistaken for the cache it held", async () => {
    const shape = [B, Hkv, 64, D];
    const q = rn([B, H, 1, D], 19);
    let k = rn(shape, 20);
    let v = rn(shape, 21);
    step(q, k, v);
    expect(step(q, k, v).resident).toBe(2);
    const data = k.storage.data;
    T.dispose([k, v]);
    // Same size: the cpu pool hands the same arrays out again, with other values.
    k = rn(shape, 22);
    v = rn(shape, 23);
    const reused = k.storage.data === data;
    const { out, ref, resident } = step(q, k, v);
    expect(resident).toBe(0); // a first sighting again, whether or not the array is the same one
    await assertClose(out, ref, { atol: 1e-5, rtol: 1e-5, label: `fresh tensors${reused ? " (reused array)" : ""}` });
  });
});

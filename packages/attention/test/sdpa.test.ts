import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import { scaledDotProductAttention as sdpa, causalMask, alibiSlopes, KVCache, cachedAttention } from "../src/index";
import { opsFixture } from "./helpers";

const rn = (shape: number[], seed: number, scale = 1) => T.mul(T.normal(shape, 0, 1, { seed }), scale);

describe("conformance with torch.nn.functional.scaled_dot_product_attention (1e-5 max abs)", () => {
  for (const impl of ["reference", "tiled"] as const) {
    it(`sdpa (${impl})`, async () => {
      const f = opsFixture();
      await assertClose(sdpa(f.q, f.k, f.v, { implementation: impl, blockSize: 8 }), f.sdpa, { atol: 1e-5, rtol: 0 });
    });
    it(`sdpa_causal (${impl})`, async () => {
      const f = opsFixture();
      await assertClose(sdpa(f.q, f.k, f.v, { causal: true, implementation: impl, blockSize: 8 }), f.sdpa_causal, { atol: 1e-5, rtol: 0 });
    });
    it(`sdpa_gqa_causal: 4 query heads share 2 kv heads (${impl})`, async () => {
      const f = opsFixture();
      await assertClose(sdpa(f.q, f.k_gqa, f.v_gqa, { causal: true, implementation: impl, blockSize: 8 }), f.sdpa_gqa_causal, { atol: 1e-5, rtol: 0 });
    });
  }
});

describe("tiled (online softmax) = reference within 1e-5 relative", () => {
  const cases: [string, () => [T.Tensor, T.Tensor, T.Tensor, Parameters<typeof sdpa>[3]]][] = [
    ["GQA, Tq < Tk bottom-right causal", () => [rn([2, 6, 5, 8], 1), rn([2, 2, 23, 8], 2), rn([2, 2, 23, 4], 3), { causal: true }]],
    [
      "bool mask + key padding",
      () => [
        rn([2, 2, 9, 8], 4),
        rn([2, 2, 17, 8], 5),
        rn([2, 2, 17, 8], 6),
        { mask: T.gt(rn([2, 1, 9, 17], 7), -0.5), keyPadding: T.tensor([[...Array(14).fill(false), true, true, true], Array(17).fill(false)]) },
      ],
    ],
    [
      "additive mask, window, ALiBi, softcap",
      () => [
        rn([1, 4, 20, 8], 8),
        rn([1, 4, 20, 8], 9),
        rn([1, 4, 20, 8], 10),
        { mask: rn([4, 20, 20], 11), window: [5, 2] as [number, number], alibiSlopes: alibiSlopes(4), softcap: 3 },
      ],
    ],
    ["logits of 1e4 (stability)", () => [rn([1, 2, 7, 4], 12, 100), rn([1, 2, 30, 4], 13, 100), rn([1, 2, 30, 4], 14), { scale: 1 }]],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const [q, k, v, o] = make();
      for (const blockSize of [1, 4, 7, 64]) {
        const tiled = sdpa(q, k, v, { ...o, implementation: "tiled", blockSize });
        const ref = sdpa(q, k, v, { ...o, implementation: "reference" });
        await assertClose(tiled, ref, { atol: 1e-6, rtol: 1e-5, label: `block ${blockSize}` });
      }
    });
  }

  it("fully masked rows: NaN as PyTorch, or 0 on request (both forms)", async () => {
    const q = rn([1, 1, 3, 4], 20);
    const k = rn([1, 1, 5, 4], 21);
    const v = rn([1, 1, 5, 4], 22);
    const mask = T.tensor([
      [true, true, false, false, false],
      [false, false, false, false, false],
      [true, true, true, true, true],
    ]);
    for (const implementation of ["reference", "tiled"] as const) {
      const nan = await sdpa(q, k, v, { mask, implementation, blockSize: 2 }).data();
      expect(Number.isNaN(nan[4])).toBe(true);
      const zero = await sdpa(q, k, v, { mask, implementation, blockSize: 2, maskedRows: "zero" }).data();
      expect([...zero.slice(4, 8)]).toEqual([0, 0, 0, 0]);
    }
  });

  it("returns the weights (rows sum to 1, causal zeros) with the reference form only", async () => {
    const { output, weights } = sdpa(rn([1, 2, 4, 8], 30), rn([1, 2, 4, 8], 31), rn([1, 2, 4, 8], 32), { causal: true, returnWeights: true });
    expect(output.shape).toEqual([1, 2, 4, 8]);
    await assertClose(T.sum(weights, -1), T.ones([1, 2, 4]), { atol: 1e-6 });
    expect(((await weights.array()) as number[][][][])[0][0][0].slice(1)).toEqual([0, 0, 0]);
    expect(() => sdpa(rn([1, 1, 2, 4], 1), rn([1, 1, 2, 4], 2), rn([1, 1, 2, 4], 3), { implementation: "tiled", returnWeights: true })).toThrow(
      /tiled implementation never forms the weights/,
    );
  });

  it("ALiBi bias equals -slope * distance added by hand", async () => {
    const q = rn([1, 2, 4, 4], 40);
    const k = rn([1, 2, 6, 4], 41);
    const v = rn([1, 2, 6, 4], 42);
    const slopes = alibiSlopes(2);
    const dist = T.tensor(Array.from({ length: 4 }, (_, i) => Array.from({ length: 6 }, (_, j) => -Math.abs(i + 2 - j))));
    const bias = T.mul(T.reshape(T.tensor(slopes), [2, 1, 1]), dist);
    await assertClose(sdpa(q, k, v, { alibiSlopes: slopes }), sdpa(q, k, v, { mask: bias }), { atol: 1e-6, rtol: 1e-6 });
  });

  it("dropout in training only, seeded", async () => {
    const [q, k, v] = [rn([1, 1, 6, 4], 50), rn([1, 1, 6, 4], 51), rn([1, 1, 6, 4], 52)];
    const a = await sdpa(q, k, v, { dropout: { p: 0.5, seed: 3 } }).data();
    const b = await sdpa(q, k, v, { dropout: { p: 0.5, seed: 3 } }).data();
    expect([...a]).toEqual([...b]);
    await assertClose(sdpa(q, k, v, { dropout: { p: 0.5, training: false } }), sdpa(q, k, v), { atol: 0, rtol: 0 });
    expect(() => sdpa(q, k, v, { dropout: { p: 0.5 }, implementation: "tiled" })).toThrow(/dropout is implemented by the reference form only/);
  });
});

describe("gradients", () => {
  const w = (y: T.Tensor) => T.sum(T.mul(y, T.normal(y.shape, 0, 1, { seed: 99 })));
  it("reference form vs finite differences (GQA, causal, ALiBi)", async () => {
    const xs = [rn([1, 4, 3, 4], 60), rn([1, 2, 5, 4], 61), rn([1, 2, 5, 3], 62)];
    const err = await checkGrad((q, k, v) => w(sdpa(q, k, v, { causal: true, alibiSlopes: alibiSlopes(4) })), xs);
    expect(err).toBeLessThan(2e-2);
  });
  it("tiled form: its recompute-from-LSE backward matches autograd through the reference", async () => {
    const xs: [T.Tensor, T.Tensor, T.Tensor] = [rn([2, 4, 6, 8], 63), rn([2, 2, 11, 8], 64), rn([2, 2, 11, 5], 65)];
    for (const o of [{ causal: true }, { softcap: 2, window: [3, 1] as [number, number] }, { mask: T.gt(rn([2, 1, 6, 11], 66), 0) }]) {
      const ref = T.grad((q, k, v) => w(sdpa(q, k, v, { ...o, implementation: "reference" })))(...xs);
      const til = T.grad((q, k, v) => w(sdpa(q, k, v, { ...o, implementation: "tiled", blockSize: 4 })))(...xs);
      for (let i = 0; i < 3; i++) await assertClose(til[i], ref[i], { atol: 1e-5, rtol: 1e-5, label: `d${"qkv"[i]}` });
    }
  });
  it("tiled form vs finite differences", async () => {
    const xs = [rn([1, 2, 3, 4], 67), rn([1, 1, 5, 4], 68), rn([1, 1, 5, 4], 69)];
    expect(await checkGrad((q, k, v) => w(sdpa(q, k, v, { causal: true, implementation: "tiled", blockSize: 2 })), xs)).toBeLessThan(2e-2);
  });
});

describe("KV cache", () => {
  it("step-by-step decoding equals full causal attention (GQA)", async () => {
    const [B, H, Hkv, Tn, D] = [2, 4, 2, 9, 8];
    const q = rn([B, H, Tn, D], 70);
    const k = rn([B, Hkv, Tn, D], 71);
    const v = rn([B, Hkv, Tn, D], 72);
    const full = sdpa(q, k, v, { causal: true });
    const cache = new KVCache({ batch: B, kvHeads: Hkv, headDim: D, capacity: Tn });
    const steps: T.Tensor[] = [];
    // A 3-token prefill, then one token at a time.
    steps.push(cachedAttention(T.narrow(q, 2, 0, 3), T.narrow(k, 2, 0, 3), T.narrow(v, 2, 0, 3), cache));
    for (let t = 3; t < Tn; t++) steps.push(cachedAttention(T.narrow(q, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), cache));
    await assertClose(T.concat(steps, 2), full, { atol: 1e-6, rtol: 1e-5 });
    expect(cache.seen).toBe(Tn);
    expect(() => cache.append(T.narrow(k, 2, 0, 1), T.narrow(v, 2, 0, 1))).toThrow(/exceed the capacity 9/);
    cache.dispose();
  });

  it("a sliding-window cache equals attention with the window mask", async () => {
    const [Tn, W] = [12, 4];
    const q = rn([1, 2, Tn, 4], 73);
    const k = rn([1, 2, Tn, 4], 74);
    const v = rn([1, 2, Tn, 4], 75);
    const full = sdpa(q, k, v, { causal: true, window: [W - 1, 0] });
    const cache = new KVCache({ batch: 1, kvHeads: 2, headDim: 4, capacity: W, eviction: { type: "window", window: W } });
    const steps: T.Tensor[] = [];
    for (let t = 0; t < Tn; t++) steps.push(cachedAttention(T.narrow(q, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), cache));
    await assertClose(T.concat(steps, 2), full, { atol: 1e-6, rtol: 1e-5 });
    expect(cache.length).toBe(W);
  });

  it("H2O keeps the heavy hitters plus the recent tokens; with a large budget it is exact", async () => {
    const [Tn, D] = [16, 4];
    const q = rn([1, 1, Tn, D], 76);
    const k = rn([1, 1, Tn, D], 77);
    const v = rn([1, 1, Tn, D], 78);
    const big = new KVCache({ batch: 1, kvHeads: 1, headDim: D, capacity: Tn + 1, eviction: { type: "h2o", budget: Tn, recent: 2 } });
    const steps: T.Tensor[] = [];
    for (let t = 0; t < Tn; t++) steps.push(cachedAttention(T.narrow(q, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), big));
    await assertClose(T.concat(steps, 2), sdpa(q, k, v, { causal: true }), { atol: 1e-6, rtol: 1e-5 });
    // Budget 6 of which 2 recent: after each step the cache holds at most 6 tokens.
    const small = new KVCache({ batch: 1, kvHeads: 1, headDim: D, capacity: 7, eviction: { type: "h2o", budget: 6, recent: 2 } });
    for (let t = 0; t < Tn; t++) cachedAttention(T.narrow(q, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), small);
    expect(small.length).toBe(6);
    expect(small.seen).toBe(Tn);
    // The two newest tokens are always kept, in order, at the end.
    const kept = await small.keys().data();
    const last2 = await T.narrow(k, 2, Tn - 2, 2).data();
    expect([...kept.slice(4 * D)]).toEqual([...last2]);
  });

  it("A2SF with forgetting 1 scores like H2O; with uniform attention H2O favours early tokens and A2SF less so", async () => {
    const Tn = 10;
    const zq = T.zeros([1, 1, Tn, 4]); // zero queries: uniform causal attention
    const k = rn([1, 1, Tn, 4], 80);
    const v = rn([1, 1, Tn, 4], 81);
    const scores = async (policy: { type: "h2o" } | { type: "a2sf"; forgetting: number }) => {
      const c = new KVCache({ batch: 1, kvHeads: 1, headDim: 4, capacity: Tn + 1, eviction: { ...policy, budget: Tn, recent: 1 } as never });
      for (let t = 0; t < Tn; t++) cachedAttention(T.narrow(zq, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), c);
      return [...(await c.tokenScores()!.data())];
    };
    const h2o = await scores({ type: "h2o" });
    const same = await scores({ type: "a2sf", forgetting: 1 });
    h2o.forEach((s, i) => expect(same[i]).toBeCloseTo(s, 6));
    // Uniform causal attention: token j gets sum_{i>=j} 1/(i+1) under H2O (decreasing in j).
    expect(h2o[0]).toBeGreaterThan(h2o[Tn - 1] * 5);
    const a2sf = await scores({ type: "a2sf", forgetting: 0.5 });
    expect(a2sf[0] / a2sf[Tn - 2]).toBeLessThan(h2o[0] / h2o[Tn - 2]);
  });
});

describe("errors", () => {
  it("name the op and the shapes", () => {
    expect(() => sdpa(rn([1, 3, 2, 4], 1), rn([1, 2, 2, 4], 2), rn([1, 2, 2, 4], 3))).toThrow(
      "scaledDotProductAttention: query heads 3 must be a multiple of key/value heads 2 (q [1,3,2,4], k [1,2,2,4])",
    );
    expect(() => sdpa(rn([1, 2, 2, 4], 1), rn([1, 2, 2, 5], 2), rn([1, 2, 2, 4], 3))).toThrow(
      "scaledDotProductAttention: q [1,2,2,4] and k [1,2,2,5] disagree on the head dim (4 vs 5)",
    );
    expect(() => sdpa(rn([2, 4], 1), rn([1, 2, 2, 4], 2), rn([1, 2, 2, 4], 3))).toThrow("scaledDotProductAttention: q must be [B, heads, T, Dh], got [2,4]");
    expect(() => sdpa(rn([1, 1, 2, 4], 1), rn([1, 1, 3, 4], 2), rn([1, 1, 3, 4], 3), { mask: T.ones([4, 4], { dtype: "bool" }) })).toThrow(
      /mask \[4,4\] does not broadcast to \[B, H, Tq, Tk\] = \[1,1,2,3\]/,
    );
    expect(causalMask(2, 3).arraySync()).toEqual([
      [true, true, false],
      [true, true, true],
    ]);
  });
});

import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as A from "../src/index";
import { opsFixture } from "./helpers";

const rn = (shape: number[], seed: number, scale = 1) => T.mul(T.normal(shape, 0, 1, { seed }), scale);
const w = (y: T.Tensor) => T.sum(T.mul(y, T.normal(y.shape, 0, 1, { seed: 99 })));

describe("sigmoid attention (fixture sigmoid_attn: b = -log 33)", () => {
  for (const implementation of ["reference", "tiled"] as const) {
    it(`matches PyTorch within 1e-5 (${implementation})`, async () => {
      const f = opsFixture();
      await assertClose(A.sigmoidAttention(f.q, f.k, f.v, { implementation, blockSize: 5 }), f.sigmoid_attn, { atol: 1e-5, rtol: 0 });
    });
  }
  it("zero logits: each row sums to n sigmoid(-log n) = n/(n+1)", async () => {
    const n = 17;
    const out = A.sigmoidAttention(T.zeros([1, 1, 3, 4]), T.zeros([1, 1, n, 4]), T.ones([1, 1, n, 1]));
    await assertClose(out, T.full([1, 1, 3, 1], n / (n + 1)), { atol: 1e-6 });
  });
  it("tiled gradients equal the reference's; finite differences agree", async () => {
    const xs: [T.Tensor, T.Tensor, T.Tensor] = [rn([1, 4, 5, 4], 1), rn([1, 2, 9, 4], 2), rn([1, 2, 9, 3], 3)];
    const ref = T.grad((q, k, v) => w(A.sigmoidAttention(q, k, v, { causal: true })))(...xs);
    const til = T.grad((q, k, v) => w(A.sigmoidAttention(q, k, v, { causal: true, implementation: "tiled", blockSize: 2 })))(...xs);
    for (let i = 0; i < 3; i++) await assertClose(til[i], ref[i], { atol: 1e-6, rtol: 1e-5 });
    expect(await checkGrad((q, k, v) => w(A.sigmoidAttention(q, k, v, { causal: true, implementation: "tiled", blockSize: 2 })), xs)).toBeLessThan(2e-2);
  });
});

describe("clipped softmax (fixture clipped_softmax_attn: zeta 1, gamma -0.03)", () => {
  for (const implementation of ["reference", "tiled"] as const) {
    it(`matches PyTorch within 1e-5 (${implementation})`, async () => {
      const f = opsFixture();
      await assertClose(A.clippedSoftmaxAttention(f.q, f.k, f.v, { zeta: 1, gamma: -0.03, implementation, blockSize: 7 }), f.clipped_softmax_attn, { atol: 1e-5, rtol: 0 });
    });
  }
  it("gives exact zeros and ones; gamma 0 is softmax; gradients", async () => {
    const p = await A.clippedSoftmax(T.tensor([[0, 8, -8]]), -1, { zeta: 1.1, gamma: -0.1 }).data();
    expect(p[2]).toBe(0);
    expect(p[1]).toBe(1);
    await assertClose(A.clippedSoftmax(rn([3, 5], 4)), T.softmax(rn([3, 5], 4)), { atol: 0, rtol: 0 });
    const xs = [rn([1, 1, 3, 4], 5), rn([1, 1, 4, 4], 6), rn([1, 1, 4, 2], 7)];
    expect(await checkGrad((q, k, v) => w(A.clippedSoftmaxAttention(q, k, v, { gamma: -0.05 })), xs)).toBeLessThan(2e-2);
  });
});

describe("linear attention (fixture linear_attn_causal: elu+1)", () => {
  for (const form of ["parallel", "recurrent", "chunked"] as const) {
    it(`${form} form matches PyTorch within 1e-5`, async () => {
      const f = opsFixture();
      const out = A.linearAttention(f.q, f.k, f.v, { causal: true, form, chunkSize: 8 });
      const r = await assertClose(out, f.linear_attn_causal, { atol: 1e-5, rtol: 0 });
      expect(r.maxAbs).toBeLessThan(1e-5);
    });
  }
  it("non-causal associative form equals the explicit quadratic form", async () => {
    const [q, k, v] = [rn([2, 2, 6, 4], 8), rn([2, 2, 9, 4], 9), rn([2, 2, 9, 3], 10)];
    const fq = A.featureMap(q);
    const fk = A.featureMap(k);
    const Aq = T.matmul(fq, T.transpose(fk));
    await assertClose(A.linearAttention(q, k, v), T.div(T.matmul(Aq, v), T.sum(Aq, -1, { keepdims: true })), { atol: 1e-6, rtol: 1e-5 });
  });
  it("step-by-step decoding equals the recurrent form (GQA)", async () => {
    const [q, k, v] = [rn([1, 4, 7, 4], 11), rn([1, 2, 7, 4], 12), rn([1, 2, 7, 3], 13)];
    let state = A.linearInitState(1, 4, 4, 3);
    const outs: T.Tensor[] = [];
    for (let t = 0; t < 7; t++) {
      const r = A.linearAttentionStep(T.narrow(q, 2, t, 1), T.narrow(k, 2, t, 1), T.narrow(v, 2, t, 1), state);
      outs.push(r.output);
      state = r.state;
    }
    await assertClose(T.concat(outs, 2), A.linearAttention(q, k, v, { causal: true, form: "recurrent" }), { atol: 1e-6, rtol: 1e-5 });
  });
  it("gradients through the parallel and chunked forms", async () => {
    const xs = [rn([1, 1, 5, 3], 14), rn([1, 1, 5, 3], 15), rn([1, 1, 5, 2], 16)];
    for (const form of ["parallel", "chunked"] as const)
      expect(await checkGrad((q, k, v) => w(A.linearAttention(q, k, v, { causal: true, form, chunkSize: 2 })), xs)).toBeLessThan(2e-2);
  });
});

describe("TransNormer NormAttention and DiagAttention", () => {
  it("the three causal forms agree and equal Norm(tril(phi(Q) phi(K)^T) V)", async () => {
    const [q, k, v] = [rn([1, 2, 10, 4], 20), rn([1, 2, 10, 4], 21), rn([1, 2, 10, 6], 22)];
    const explicit = T.layerNorm(T.matmul(T.tril(T.matmul(A.featureMap(q), T.transpose(A.featureMap(k)))), v), null, null, 1e-5);
    for (const form of ["parallel", "recurrent", "chunked"] as const) {
      await assertClose(A.normAttention(q, k, v, { causal: true, form, chunkSize: 3 }), explicit, { atol: 1e-5, rtol: 1e-5, label: form });
    }
    await assertClose(A.normAttention(q, k, v, { norm: "rms" }), T.rmsNorm(T.matmul(A.featureMap(q), T.matmul(T.transpose(A.featureMap(k)), v)), null, 1e-5), {
      atol: 1e-5,
      rtol: 1e-5,
    });
  });
  it("its gradient stays bounded where the denominator form's blows up (tiny phi(q))", () => {
    // The denominator form is invariant to the scale of phi(q), so its gradient grows like
    // 1/|phi(q)|; LayerNorm's eps bounds NormAttention's (Qin et al. 2022, section 3).
    const k = rn([1, 1, 8, 4], 24);
    const v = rn([1, 1, 8, 4], 25);
    const gradNorm = (f: (q: T.Tensor) => T.Tensor, scale: number) => {
      const q = T.mul(T.add(T.abs(rn([1, 1, 8, 4], 23)), 0.1), scale); // positive: relu keeps it
      return T.sqrt(T.sum(T.square(T.grad((qq: T.Tensor) => w(f(qq)))(q)[0]))).itemSync();
    };
    const lin = (q: T.Tensor) => A.linearAttention(q, k, v, { featureMap: "relu", causal: true });
    const nrm = (q: T.Tensor) => A.normAttention(q, k, v, { featureMap: "relu", causal: true });
    // Shrinking phi(q) another 1000x: the denominator form's gradient grows 1000x, NormAttention's
    // has saturated at ~1/sqrt(eps).
    const growthLinear = gradNorm(lin, 1e-7) / gradNorm(lin, 1e-4);
    const growthNorm = gradNorm(nrm, 1e-7) / gradNorm(nrm, 1e-4);
    expect(growthLinear).toBeGreaterThan(500);
    expect(growthNorm).toBeLessThan(2);
  });
  it("DiagAttention equals attention with a block-diagonal mask (GQA, ragged last block)", async () => {
    const [q, k, v] = [rn([2, 4, 11, 4], 26), rn([2, 2, 11, 4], 27), rn([2, 2, 11, 3], 28)];
    await assertClose(A.diagAttention(q, k, v, { block: 4 }), A.scaledDotProductAttention(q, k, v, { mask: A.blockDiagonalMask(11, 4) }), { atol: 1e-6, rtol: 1e-5 });
    await assertClose(
      A.diagAttention(q, k, v, { block: 4, causal: true }),
      A.scaledDotProductAttention(q, k, v, { mask: T.logicalAnd(A.blockDiagonalMask(11, 4), A.causalMask(11)) }),
      { atol: 1e-6, rtol: 1e-5 },
    );
  });
});

describe("sliding-window and block-sparse attention equal their dense masked references", () => {
  it("sliding window (causal and two-sided, several block sizes)", async () => {
    const [q, k, v] = [rn([1, 4, 37, 8], 30), rn([1, 2, 37, 8], 31), rn([1, 2, 37, 8], 32)];
    for (const [left, right] of [
      [5, 0],
      [3, 4],
    ]) {
      const dense = A.scaledDotProductAttention(q, k, v, { mask: A.slidingWindowMask(37, 37, left, right) });
      for (const blockSize of [4, 16]) await assertClose(A.slidingWindowAttention(q, k, v, { left, right, blockSize }), dense, { atol: 1e-6, rtol: 1e-5 });
    }
  });
  it("BigBird/Longformer pattern with global tokens and random blocks (and causal)", async () => {
    const [q, k, v] = [rn([1, 2, 24, 4], 33), rn([1, 2, 24, 4], 34), rn([1, 2, 24, 4], 35)];
    const o = { block: 4, windowBlocks: 1, globalTokens: [0, 13], randomBlocks: [[5], [], [0, 4], [], [1], []] };
    for (const causal of [false, true]) {
      const mask = A.blockSparseMask(24, 4, { ...o, causal });
      await assertClose(A.blockSparseAttention(q, k, v, { ...o, causal }), A.scaledDotProductAttention(q, k, v, { mask }), { atol: 1e-6, rtol: 1e-5, label: `causal ${causal}` });
    }
  });
});

describe("Swin window attention", () => {
  /** Independent dense mask: same window and same region in the rolled frame. */
  function denseSwin(Hg: number, Wg: number, M: number, s: number): { allow: boolean[][]; offsets: number[][] } {
    const coords = (t: number) => {
      const r = (Math.floor(t / Wg) - s + Hg) % Hg; // position after roll(-s)
      const c = ((t % Wg) - s + Wg) % Wg;
      const reg = (x: number, n: number) => (s === 0 ? 0 : x < n - M ? 0 : x < n - s ? 1 : 2);
      return { r, c, win: Math.floor(r / M) * (Wg / M) + Math.floor(c / M), region: reg(r, Hg) * 3 + reg(c, Wg) };
    };
    const T_ = Hg * Wg;
    const allow: boolean[][] = [];
    const offsets: number[][] = [];
    for (let a = 0; a < T_; a++) {
      const ca = coords(a);
      allow.push([]);
      offsets.push([]);
      for (let b = 0; b < T_; b++) {
        const cb = coords(b);
        allow[a].push(ca.win === cb.win && ca.region === cb.region);
        offsets[a].push(((ca.r % M) - (cb.r % M) + M - 1) * (2 * M - 1) + ((ca.c % M) - (cb.c % M) + M - 1));
      }
    }
    return { allow, offsets };
  }
  for (const shift of [0, 2]) {
    it(`equals dense attention with the window/region mask (shift ${shift}, relative bias)`, async () => {
      const [Hg, Wg, M, h] = [8, 12, 4, 2];
      const [q, k, v] = [rn([1, h, Hg * Wg, 4], 40), rn([1, h, Hg * Wg, 4], 41), rn([1, h, Hg * Wg, 4], 42)];
      const table = rn([h, (2 * M - 1) ** 2], 43);
      const { allow, offsets } = denseSwin(Hg, Wg, M, shift);
      const tab = (await table.array()) as number[][];
      const bias = T.tensor(Array.from({ length: h }, (_, hh) => allow.map((row, a) => row.map((ok, b) => (ok ? tab[hh][offsets[a][b]] : -Infinity)))));
      const dense = A.scaledDotProductAttention(q, k, v, { mask: bias });
      await assertClose(A.swinAttention(q, k, v, { grid: [Hg, Wg], window: M, shift, relativeBias: table }), dense, { atol: 1e-6, rtol: 1e-5 });
    });
  }
  it("with one window covering the grid and no shift it is global attention", async () => {
    const [q, k, v] = [rn([1, 1, 16, 4], 44), rn([1, 1, 16, 4], 45), rn([1, 1, 16, 4], 46)];
    await assertClose(A.swinAttention(q, k, v, { grid: [4, 4], window: 4 }), A.scaledDotProductAttention(q, k, v), { atol: 1e-6, rtol: 1e-5 });
  });
});

describe("ProbSparse attention (Informer)", () => {
  it("with u = Tq it is exact softmax attention (causal and not)", async () => {
    const [q, k, v] = [rn([1, 2, 12, 4], 50), rn([1, 2, 12, 4], 51), rn([1, 2, 12, 4], 52)];
    for (const causal of [false, true]) {
      await assertClose(A.probSparseAttention(q, k, v, { factor: 100, causal }), A.scaledDotProductAttention(q, k, v, { causal }), { atol: 1e-6, rtol: 1e-5 });
    }
  });
  it("lazy queries output mean(V) (non-causal) or cumsum(V) (causal)", async () => {
    const T_ = 64;
    const [q, k, v] = [rn([1, 1, T_, 4], 53), rn([1, 1, T_, 4], 54), rn([1, 1, T_, 4], 55)];
    const u = 5 * Math.ceil(Math.log(T_)); // 25 active queries of 64
    const out = (await A.probSparseAttention(q, k, v, { factor: 5 }).array()) as number[][][][];
    const m = (await T.mean(v, 2).array()) as number[][][];
    const lazyRows = out[0][0].filter((row) => row.every((x, i) => Math.abs(x - m[0][0][i]) < 1e-6));
    expect(lazyRows.length).toBe(T_ - u);
  });
});

describe("EcoFormer hashed attention", () => {
  it("the linear form equals the explicit quadratic form (causal and not)", async () => {
    const sign = (t: T.Tensor) => T.where(T.ge(t, 0), 1, -1);
    const [hq, hk, v] = [sign(rn([2, 2, 9, 16], 60)), sign(rn([2, 2, 9, 16], 61)), rn([2, 2, 9, 5], 62)];
    for (const causal of [false, true]) await assertClose(A.hashedAttention(hq, hk, v, { causal }), A.hashedAttentionReference(hq, hk, v, { causal }), { atol: 1e-5, rtol: 1e-5 });
  });
  it("code similarity is 2 (b - Hamming) and the fitted hash tracks attention better than chance", async () => {
    // Clustered tokens: keys near one of 4 centres; queries near the same centres.
    const centres = rn([4, 8], 63, 3);
    const assign = T.randint(0, 4, [48], { seed: 64 });
    const toks = T.add(T.indexSelect(centres, 0, assign), rn([48, 8], 65, 0.3));
    const hash = await A.fitKernelHash(toks, toks, { bits: 12, anchors: 12, topk: 4, steps: 30, seed: 1 });
    const codes = A.hashCodes(toks, hash); // [48, 12] in {-1, 1}
    const c = (await codes.array()) as number[][];
    const ham = c[0].reduce((s, x, i) => s + (x !== c[1][i] ? 1 : 0), 0);
    const dot = c[0].reduce((s, x, i) => s + x * c[1][i], 0);
    expect(dot).toBe(12 - 2 * ham);
    // Same-cluster pairs should agree on more bits than different-cluster pairs.
    const a = (await assign.data()) as Int32Array;
    let same = 0,
      nSame = 0,
      diff = 0,
      nDiff = 0;
    for (let i = 0; i < 48; i++)
      for (let j = i + 1; j < 48; j++) {
        const d = c[i].reduce((s, x, t) => s + x * c[j][t], 0);
        if (a[i] === a[j]) (same += d), nSame++;
        else (diff += d), nDiff++;
      }
    expect(same / nSame).toBeGreaterThan(diff / nDiff + 2);
  });
});

describe("gated attention", () => {
  it("unconditional gates start at init; per-token gates have [B, H, T, 1] logits; gradients reach the gate", async () => {
    const ctx = rn([2, 4, 5, 3], 70);
    const x = rn([2, 5, 8], 71);
    const g0 = new A.AttentionGate(8, 4, { type: "unconditional", init: 0.25 });
    await assertClose(g0.forward(ctx, x), T.mul(ctx, 0.25), { atol: 1e-6 });
    const g = new A.AttentionGate(8, 4, { type: "per-token", mlp: true, init: 0.25, seed: 3 });
    expect(g.logits(x).shape).toEqual([2, 4, 5, 1]);
    expect(new A.AttentionGate(8, 4, { type: "per-head" }).logits(x).shape).toEqual([2, 4, 1, 1]);
    const { grads } = T.gradients(() => w(g.forward(ctx, x)), g.namedParameters());
    expect(Object.keys(grads).sort()).toEqual(["b1", "bias", "w1", "w2"]);
    expect(T.sum(T.abs(grads.w1)).itemSync()).toBeGreaterThan(0);
  });
});

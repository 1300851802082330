import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { ref } from "./helpers";

const TOL = { atol: 2e-6, rtol: 2e-6 };

describe("softmax and normalization match NumPy", () => {
  it("softmax (last axis)", async () => assertClose(T.softmax(ref("n.x")), ref("n.softmax"), TOL));
  it("logSoftmax", async () => assertClose(T.logSoftmax(ref("n.x")), ref("n.logsoftmax"), TOL));
  it("softmax over a middle axis", async () => assertClose(T.softmax(ref("n.x"), 1), ref("n.softmax_ax1"), TOL));
  it("layerNorm with weight and bias", async () => assertClose(T.layerNorm(ref("n.x"), ref("n.w"), ref("n.b"), 1e-5), ref("n.layernorm"), { atol: 1e-5, rtol: 1e-5 }));
  it("rmsNorm", async () => assertClose(T.rmsNorm(ref("n.x"), ref("n.w"), 1e-6), ref("n.rmsnorm"), { atol: 1e-5, rtol: 1e-5 }));

  it("softmax is stable with logits of 1e4 and gives NaN for fully masked rows (as PyTorch)", () => {
    const y = T.softmax(
      T.tensor([
        [1e4, 1e4 - 1, -1e4],
        [-Infinity, -Infinity, -Infinity],
      ]),
    );
    const v = y.dataSync();
    expect(v[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(Number.isNaN(v[3])).toBe(true);
  });

  it("layerNorm normalizes over the trailing dims its weight spans", async () => {
    const x = T.reshape(ref("n.x"), [2, 3, 4, 4]);
    const y = T.layerNorm(x, T.ones([4, 4]), T.zeros([4, 4]), 1e-5);
    const plain = T.layerNorm(ref("n.x"), null, null, 1e-5);
    await assertClose(T.reshape(y, [2, 3, 16]), plain, { atol: 1e-6, rtol: 1e-6 });
  });
});

describe("scans", () => {
  const x = () => ref("s.x");
  it("cumsum", async () => assertClose(T.cumsum(x(), 1), ref("s.cumsum_1"), TOL));
  it("reverse cumsum", async () => assertClose(T.cumsum(x(), 1, { reverse: true }), ref("s.cumsum_1_rev"), TOL));
  it("exclusive cumsum", async () => assertClose(T.cumsum(x(), 1, { exclusive: true }), ref("s.cumsum_1_excl"), TOL));
  it("cumprod", async () => assertClose(T.cumprod(x(), 2), ref("s.cumprod_2"), TOL));
});

describe("conv1d matches a NumPy loop", () => {
  it("groups, stride, dilation and asymmetric padding", async () => {
    const y = T.conv1d(ref("c.x"), ref("c.w"), ref("c.b"), { stride: 2, padding: [1, 2], dilation: 2, groups: 2 });
    await assertClose(y, ref("c.y"), { atol: 1e-5, rtol: 1e-5 });
  });

  it("depthwise with 4 taps (the sliding-window path): edges, padding on both sides, short rows, with and without bias, against a float64 loop", async () => {
    const oracle = (x: Float32Array, w: Float32Array, b: Float32Array | null, B: number, C: number, L: number, pl: number, pr: number) => {
      const Lout = L + pl + pr - 3;
      const out = new Float32Array(B * C * Lout);
      for (let r = 0; r < B * C; r++)
        for (let t = 0; t < Lout; t++) {
          let s = b ? b[r % C] : 0;
          for (let k = 0; k < 4; k++) {
            const i = t + k - pl;
            if (i >= 0 && i < L) s += w[(r % C) * 4 + k] * x[r * L + i];
          }
          out[r * Lout + t] = s;
        }
      return out;
    };
    for (const [B, C, L, pl, pr] of [
      [2, 3, 9, 1, 2],
      [1, 4, 2, 3, 0], // shorter than the kernel: every output is an edge
      [2, 5, 40, 0, 0],
      [1, 2, 7, 3, 3],
    ]) {
      const x = T.normal([B, C, L], 0, 1, { seed: L + pl });
      const w = T.normal([C, 1, 4], 0, 1, { seed: C });
      const b = T.normal([C], 0, 1, { seed: 7 });
      for (const bias of [null, b]) {
        const y = T.conv1d(x, w, bias, { groups: C, padding: [pl, pr] });
        const want = oracle(x.dataSync() as Float32Array, w.dataSync() as Float32Array, bias ? (bias.dataSync() as Float32Array) : null, B, C, L, pl, pr);
        await assertClose(y, T.tensor(want, { shape: [B, C, L + pl + pr - 3] }), { atol: 1e-6, rtol: 1e-6, label: `${[B, C, L, pl, pr]} bias ${!!bias}` });
      }
    }
  });

  it("depthwise causal (Mamba's short conv)", async () => {
    const y = T.conv1d(ref("c.dx"), ref("c.dw"), ref("c.db"), { groups: 5, padding: "causal" });
    expect(y.shape).toEqual([2, 5, 9]);
    await assertClose(y, ref("c.dy"), { atol: 1e-5, rtol: 1e-5 });
  });
});

describe("indexing, sorting and joining match NumPy", () => {
  it("gather (take_along_axis)", async () => assertClose(T.gather(ref("i.x"), 0, ref("i.gidx")), ref("i.gather0"), { atol: 0, rtol: 0 }));

  it("scatterAdd (np.add.at)", async () => {
    const y = T.scatterAdd(T.zeros([5, 6]), 0, ref("i.sidx"), ref("i.src"));
    await assertClose(y, ref("i.scatter0"), { atol: 1e-6, rtol: 1e-6 });
  });

  it("stable descending sort with ties", async () => {
    const { values, indices } = T.sort(ref("i.sort_x"), -1, true);
    await assertClose(values, ref("i.sort_desc"), { atol: 0, rtol: 0 });
    expect([...indices.dataSync()]).toEqual([...ref("i.sort_desc_idx").dataSync()]);
  });

  it("topk equals the head of the sort", async () => {
    const { values, indices } = T.topk(ref("i.sort_x"), 4);
    await assertClose(values, T.slice(ref("i.sort_desc"), [null, [0, 4]]), { atol: 0, rtol: 0 });
    expect(indices.arraySync()).toEqual(T.slice(ref("i.sort_desc_idx"), [null, [0, 4]]).arraySync());
    expect(T.topk(T.tensor([3, 1, 2]), 2, -1, false).values.arraySync()).toEqual([1, 2]);
  });

  it("triu / tril with diagonal offsets", async () => {
    await assertClose(T.triu(ref("i.x"), 1), ref("i.triu1"), { atol: 0, rtol: 0 });
    await assertClose(T.tril(ref("i.x"), -1), ref("i.tril_m1"), { atol: 0, rtol: 0 });
  });

  it("pad", async () =>
    assertClose(
      T.pad(
        ref("i.x"),
        [
          [1, 0],
          [2, 3],
        ],
        0.5,
      ),
      ref("i.pad"),
      { atol: 0, rtol: 0 },
    ));

  it("concat / stack / split / chunk", () => {
    const a = T.tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = T.tensor([[5, 6]]);
    expect(T.concat([a, b], 0).arraySync()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(T.stack([a, a], 1).shape).toEqual([2, 2, 2]);
    const [p, q] = T.split(T.arange(5), [2, 3]);
    expect([p.arraySync(), q.arraySync()]).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    expect(T.chunk(T.arange(5), 2).map((t) => t.arraySync())).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
  });

  it("indexSelect, embedding, oneHot and flip", () => {
    const w = T.tensor([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect(T.indexSelect(w, 0, [2, 0]).arraySync()).toEqual([
      [2, 2],
      [0, 0],
    ]);
    expect(T.embedding(w, T.tensor([[1, 2]], { dtype: "int32" })).arraySync()).toEqual([
      [
        [1, 1],
        [2, 2],
      ],
    ]);
    expect(T.oneHot(T.tensor([0, 2], { dtype: "int32" }), 3).arraySync()).toEqual([
      [1, 0, 0],
      [0, 0, 1],
    ]);
    expect(T.flip(T.tensor([[1, 2, 3]]), 1).arraySync()).toEqual([[3, 2, 1]]);
  });
});

describe("cross entropy", () => {
  it("matches -log softmax at the targets, with ignoreIndex and label smoothing", () => {
    const logits = T.tensor([
      [2, 0, -1],
      [0.5, 0.5, 3],
    ]);
    const lsm = T.logSoftmax(logits).arraySync() as number[][];
    const ce = T.crossEntropy(logits, T.tensor([0, 2], { dtype: "int32" })).itemSync();
    expect(ce).toBeCloseTo(-(lsm[0][0] + lsm[1][2]) / 2, 6);
    const ign = T.crossEntropy(logits, T.tensor([0, -100], { dtype: "int32" })).itemSync();
    expect(ign).toBeCloseTo(-lsm[0][0], 6);
    const eps = 0.1;
    const smooth = T.crossEntropy(logits, T.tensor([0, 2], { dtype: "int32" }), { labelSmoothing: eps }).itemSync();
    const row = (r: number, t: number) => (1 - eps) * -lsm[r][t] + (eps * -(lsm[r][0] + lsm[r][1] + lsm[r][2])) / 3;
    expect(smooth).toBeCloseTo((row(0, 0) + row(1, 2)) / 2, 6);
    const soft = T.crossEntropy(
      logits,
      T.tensor([
        [1, 0, 0],
        [0, 0, 1],
      ]),
      { reduction: "sum" },
    ).itemSync();
    expect(soft).toBeCloseTo(-(lsm[0][0] + lsm[1][2]), 5);
  });
});

/**
 * MaskGITTransformer: shapes with and without a class token, non-causal attention, class
 * conditioning, the training objective against its definition (mask counts ceil(gamma(r) N), the
 * mean masked share against the schedule's integral, the loss against a hand cross-entropy), a
 * loss that falls on a tiny loop, maskgitDecode's step count through the model, flat memory, and
 * the error paths.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { maskgitDecode } from "@tessera/masked";
import { MaskGITTransformer } from "../src/index";

const V = 12;
const N = 9;
const small = { codebookSize: V, length: N, numClasses: 3, dModel: 32, layers: 2, heads: 4, seed: 1 } as const;
const ids = (rows: number[][]) => T.tensor(rows, { dtype: "int32" });
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Codes of class c: token t is (c * 4 + t) mod V, a different pattern per class. */
const pattern = (c: number) => Array.from({ length: N }, (_, t) => (c * 4 + t) % V);

describe("MaskGITTransformer", () => {
  it("vocabulary layout, shapes with and without the class token", () => {
    const m = new MaskGITTransformer(small);
    expect([m.maskTokenId, m.classTokenOffset, m.nullClass, m.vocabSize]).toEqual([12, 13, 3, 17]);
    const codes = [pattern(0), pattern(1)];
    const withClass = m.forward(ids(codes.map((r, i) => [m.classTokenOffset + i, ...r])));
    expect(withClass.shape).toEqual([2, 1 + N, V]);
    const plain = m.forward(ids(codes));
    expect(plain.shape).toEqual([2, N, V]);
    // [B, N] is the null class prepended and its position dropped.
    const nulled = m.forward(ids(codes.map((r) => [m.classTokenOffset + m.nullClass, ...r])));
    expect(maxAbs(plain.dataSync(), T.contiguous(T.narrow(nulled, 1, 1, N)).dataSync())).toBe(0);
  });

  it("attention is bidirectional and the class token changes the logits", () => {
    const m = new MaskGITTransformer(small);
    const row = [m.classTokenOffset + 0, ...pattern(0)];
    const changedLast = [...row];
    changedLast[N] = (changedLast[N] + 1) % V;
    const a = T.select(m.forward(ids([row])), 1, 1).dataSync(); // logits of the first code position
    const b = T.select(m.forward(ids([changedLast])), 1, 1).dataSync();
    expect(maxAbs(a, b)).toBeGreaterThan(1e-4); // a later token reaches an earlier position
    const otherClass = [m.classTokenOffset + 2, ...pattern(0)];
    const c = T.select(m.forward(ids([otherClass])), 1, 1).dataSync();
    expect(maxAbs(a, c)).toBeGreaterThan(1e-4);
  });

  it("trainingLoss: ceil(gamma(r) N) masked per row, the cosine schedule's mean share, the cross-entropy at masked positions", () => {
    const m = new MaskGITTransformer(small);
    const B = 6;
    const codes = ids(Array.from({ length: B }, (_, b) => pattern(b % 3)));
    const labels = Array.from({ length: B }, (_, b) => b % 3);
    const { loss, mask, maskedPerRow } = m.trainingLoss(codes, labels, { seed: 5 });
    const mk = mask.arraySync() as number[][];
    mk.forEach((row, b) => expect(row.reduce((s, v) => s + v, 0)).toBe(maskedPerRow[b]));
    // The loss by hand: the model on the masked input, -log softmax at the masked positions.
    const input = mk.map((row, b) => [m.classTokenOffset + labels[b], ...row.map((v, t) => (v ? m.maskTokenId : pattern(b % 3)[t]))]);
    const z = m.forward(ids(input)).arraySync() as number[][][];
    let total = 0;
    let count = 0;
    mk.forEach((row, b) =>
      row.forEach((v, t) => {
        if (!v) return;
        const logits = z[b][t + 1];
        const lse = Math.log(logits.reduce((s, x) => s + Math.exp(x), 0));
        total += lse - logits[pattern(b % 3)[t]];
        count++;
      }),
    );
    expect(Math.abs(loss.itemSync() - total / count)).toBeLessThan(1e-5);

    // Over many rows the masked share is E[ceil(cos(pi r / 2) N)] / N, integrated numerically.
    const rows = 4000;
    const { mask: flat, maskedPerRow: many } = m.trainingMask(rows, { seed: 7 });
    expect(flat.reduce((s, v) => s + v, 0)).toBe(many.reduce((s, n) => s + n, 0));
    expect(many.every((n) => n >= 1 && n <= N)).toBe(true);
    const share = many.reduce((s, n) => s + n, 0) / (rows * N);
    let expected = 0;
    const grid = 100000;
    for (let i = 0; i < grid; i++) expected += Math.max(1, Math.ceil(Math.cos((Math.PI / 2) * ((i + 0.5) / grid)) * N)) / N;
    expected /= grid;
    // std of the mean <= 0.5 / sqrt(4000) = 0.008: a 3-sigma bound.
    expect(Math.abs(share - expected)).toBeLessThan(0.024);
    // "linear" masks more rarely at the top: mean share E[ceil((1 - r) N)] / N = (N + 1) / (2 N) = 0.556.
    const lin = m.trainingMask(rows, { seed: 8, schedule: "linear" }).maskedPerRow;
    expect(Math.abs(lin.reduce((s, n) => s + n, 0) / (rows * N) - (N + 1) / (2 * N))).toBeLessThan(0.024);
  });

  it("classDropout replaces labels by the null class at its rate", () => {
    const m = new MaskGITTransformer({ ...small, layers: 1 });
    const B = 400;
    const codes = T.zeros([B, N], { dtype: "int32" });
    const seen: number[][] = [];
    const orig = m.forward.bind(m);
    m.forward = (x: T.Tensor) => {
      seen.push((x.arraySync() as number[][]).map((r) => r[0]));
      return orig(x);
    };
    m.trainingLoss(codes, new Array(B).fill(1), { seed: 3, classDropout: 0.25 });
    const nulls = seen[0].filter((t) => t === m.classTokenOffset + m.nullClass).length;
    expect(seen[0].every((t) => t === m.classTokenOffset + 1 || t === m.classTokenOffset + m.nullClass)).toBe(true);
    // Binomial(400, 0.25): mean 100, std 8.7.
    expect(Math.abs(nulls - 100)).toBeLessThan(35);
  });

  it("a tiny class-conditional training loop lowers the loss and decoding follows the class", async () => {
    const m = new MaskGITTransformer({ ...small, layers: 1 });
    const params = m.namedParameters();
    const opt = new T.AdamW(params, { lr: 5e-3 });
    const B = 12;
    const labels = Array.from({ length: B }, (_, b) => b % 3);
    const codes = ids(labels.map(pattern));
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      const { value, grads } = T.gradients(() => m.trainingLoss(codes, labels, { seed: step }).loss, params);
      losses.push(value.itemSync());
      opt.step(grads);
      T.dispose([value, grads]);
    }
    const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(tail, `${head} -> ${tail}`).toBeLessThan(0.25 * head);
    // Every class decodes to its own pattern (temperature 0: the most confident tokens first).
    const { tokens } = await m.generate({ classLabel: [0, 1, 2], steps: 4, temperature: 0, seed: 1 });
    const rows = tokens.arraySync() as number[][];
    rows.forEach((row, c) => {
      const agree = row.filter((t, i) => t === pattern(c)[i]).length;
      expect(agree, `class ${c}: ${row}`).toBeGreaterThanOrEqual(N - 1);
    });
  });

  it("maskgitDecode calls the model exactly `steps` times; generate returns codes in [0, V)", async () => {
    const m = new MaskGITTransformer(small);
    let calls = 0;
    const model = m.asMaskgitModel();
    const counted = (x: T.Tensor, info: { step: number }) => {
      calls++;
      return model(x, info);
    };
    for (const steps of [1, 3, 8]) {
      calls = 0;
      const r = await maskgitDecode(counted, { length: N, maskTokenId: m.maskTokenId, steps, classLabel: [0, 2], classTokenOffset: m.classTokenOffset, vocabSize: V, seed: 2 });
      expect(calls).toBe(steps);
      expect(r.tokens.shape).toEqual([2, N]);
    }
    // Through generate (which calls forward once per step), unconditional and conditional.
    let forwards = 0;
    const orig = m.forward.bind(m);
    m.forward = (x: T.Tensor) => {
      forwards++;
      return orig(x);
    };
    const un = await m.generate({ batch: 3, steps: 5, seed: 3 });
    expect(forwards).toBe(5);
    expect(un.tokens.shape).toEqual([3, N]);
    const cond = await m.generate({ classLabel: 1, batch: 2, steps: N, seed: 3 });
    expect(forwards).toBe(5 + N);
    expect(Array.from(cond.tokens.dataSync()).every((t) => t >= 0 && t < V)).toBe(true);
  });

  it("memory stays flat over training steps and decoding", async () => {
    const m = new MaskGITTransformer({ ...small, layers: 1 });
    const params = m.namedParameters();
    const opt = new T.AdamW(params, { lr: 1e-3 });
    const codes = ids([pattern(0), pattern(1)]);
    const step = async (s: number) => {
      const { value, grads } = T.gradients(() => m.trainingLoss(codes, [0, 1], { seed: s }).loss, params);
      opt.step(grads);
      T.dispose([value, grads]);
      (await m.generate({ classLabel: [0, 1], steps: 3, seed: s })).tokens.dispose();
    };
    await step(0); // AdamW's moments
    const before = T.memory().numTensors;
    for (let s = 1; s < 4; s++) await step(s);
    expect(T.memory().numTensors).toBe(before);
  });

  it("errors name the argument and the shapes", async () => {
    expect(() => new MaskGITTransformer({ codebookSize: 0, length: 4 })).toThrow(/MaskGITTransformer: codebookSize must be an integer of at least 1, got 0/);
    expect(() => new MaskGITTransformer({ codebookSize: 8, length: 4, dModel: 30, heads: 4 })).toThrow(/dModel 30 must be a multiple of heads 4/);
    expect(() => new MaskGITTransformer({ codebookSize: 8, length: 4, numClasses: -1 })).toThrow(/numClasses must be an integer of at least 0, got -1/);
    const m = new MaskGITTransformer(small);
    expect(() => m.forward(ids([[1, 2, 3]]))).toThrow(/MaskGITTransformer.forward: ids \[1,3\] must be \[B, 9\] or \[B, 1 \+ 9\]/);
    expect(() => m.forward(T.zeros([1, N]))).toThrow(/ids must be int32, got float32/);
    expect(() => m.forward(ids([[99, ...pattern(0)]]))).toThrow(/embedding/); // outside the vocabulary
    const codes = ids([pattern(0), pattern(1)]);
    expect(() => m.trainingLoss(ids([[1, 2]]), null)).toThrow(/MaskGITTransformer.trainingLoss: codes \[1,2\] must be \[B, 9\]/);
    expect(() => m.trainingLoss(codes, [0])).toThrow(/labels has 1 entries for a batch of 2/);
    expect(() => m.trainingLoss(codes, [0, 4])).toThrow(/labels\[1\] = 4 must be a class in \[0, 3\] \(3 = null class\)/);
    expect(() => m.trainingLoss(codes, null, { classDropout: 2 })).toThrow(/classDropout must lie in \[0, 1\], got 2/);
    expect(() => m.trainingLoss(codes, null, { schedule: "tan" as "cosine" })).toThrow(/MaskGITTransformer.trainingMask: schedule must be one of cosine/);
    expect(() => m.trainingMask(0)).toThrow(/batch must be a positive integer, got 0/);
    expect(() => m.generate({ classLabel: [0, 7] })).toThrow(/MaskGITTransformer.generate: classLabel\[1\] = 7 must be a class in \[0, 3\]/);
  });
});

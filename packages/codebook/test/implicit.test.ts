/**
 * FSQ, LFQ and residual VQ: index maps round-trip, FSQ uses its whole implicit codebook on
 * uniform data, LFQ's entropy loss follows its definition, and residual VQ's error falls with
 * every stage.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as C from "../src/index";

describe("FSQ", () => {
  it("levels [8, 5, 5, 5]: codes <-> indices round-trip; uniform inputs use 100% of the 1000 codes", async () => {
    const fsq = new C.FSQ([8, 5, 5, 5]);
    expect(fsq.codebookSize).toBe(1000);
    const all = T.arange(0, 1000, 1, { dtype: "int32" });
    const codes = fsq.indicesToCodes(all);
    expect(Array.from(fsq.codesToIndices(codes).dataSync())).toEqual(Array.from(all.dataSync()));
    // Uniform data in the quantizer's bounded space: bound(z) uniform over each dimension's range.
    const levels = [8, 5, 5, 5];
    const u = T.uniform([200000, 4], 0, 1, { seed: 1 }).dataSync(); // edge cells are half-width: enough samples for the corners
    const z = T.tensor(
      Float32Array.from(u, (v, i) => {
        const L = levels[i % 4];
        const half = ((L - 1) * (1 + 1e-3)) / 2;
        const offset = L % 2 === 0 ? 0.5 : 0;
        const b = -half - offset + v * 2 * half; // inside (-half - offset, half - offset)
        return Math.atanh((b + offset) / half) - Math.atanh(offset / half);
      }),
      { shape: [200000, 4] },
    );
    const r = fsq.forward(z);
    await assertClose(fsq.indicesToCodes(r.indices), r.quantized, { atol: 1e-6, rtol: 0 });
    const stats = C.codebookStats(r.indices.dataSync(), 1000);
    console.log(`FSQ [8,5,5,5] usage on uniform inputs: ${(stats.usage * 100).toFixed(1)}%`);
    expect(stats.usage).toBe(1);
    // Quantized values lie on the grid in [-1, 1]; gradients pass straight through the rounding.
    for (const v of r.quantized.dataSync()) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    const [g] = T.grad((t: T.Tensor) => T.sum(new C.FSQ([5]).forward(t).quantized))(T.tensor([[0.1], [0.3]]));
    expect(Array.from(g.dataSync()).every((v) => v > 0)).toBe(true);
    expect(() => new C.FSQ([1, 4])).toThrow(/levels must be integers >= 2/);
  });
});

describe("LFQ", () => {
  it("signs and MSB-first indices round-trip; the entropy loss equals its definition", async () => {
    const lfq = new C.LFQ({ dim: 4, inverseTemperature: 2 });
    const x = T.normal([6, 4], 0, 1, { seed: 2 });
    const r = lfq.forward(x);
    const xv = x.arraySync() as number[][];
    expect(Array.from(r.indices.dataSync())).toEqual(xv.map((row) => row.reduce((a, v, d) => a + (v > 0 ? 2 ** (3 - d) : 0), 0)));
    await assertClose(lfq.indicesToCodes(r.indices), r.quantized, { atol: 1e-6, rtol: 0 });
    // By hand: logits over the 16 codes, per-sample entropy minus the batch entropy.
    const codes = Array.from({ length: 16 }, (_, i) => [3, 2, 1, 0].map((k) => ((i >> k) & 1 ? 1 : -1)));
    const probs = xv.map((row) => {
      const z = codes.map((c) => 2 * 2 * c.reduce((a, v, d) => a + v * row[d], 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b);
      return e.map((v) => v / s);
    });
    const H = (p: number[]) => -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0);
    const avg = codes.map((_, k) => probs.reduce((a, p) => a + p[k], 0) / probs.length);
    const want = probs.reduce((a, p) => a + H(p), 0) / probs.length - H(avg);
    expect(r.entropyLoss!.itemSync()).toBeCloseTo(want, 4);
  });
});

describe("ResidualVQ", () => {
  it("the reconstruction error falls with every stage; indices have one column per stage", () => {
    const rvq = new C.ResidualVQ({ dim: 8, codebookSize: 32, stages: 4, kmeansInit: true, seed: 2 });
    const data = (s: number) => T.normal([512, 8], 0, 1, { seed: s });
    for (let s = 0; s < 5; s++) T.tidy(() => void rvq.forward(data(s)));
    rvq.eval();
    const x = data(100);
    const r = rvq.forward(x);
    expect(r.indices.shape).toEqual([512, 4]);
    const errs = r.perStage.map((q) => T.mseLoss(q, x).itemSync());
    console.log(`residual VQ MSE by stage: ${errs.map((e) => e.toFixed(4)).join(", ")}`);
    for (let i = 1; i < errs.length; i++) expect(errs[i]).toBeLessThan(errs[i - 1]);
    expect(() => new C.ResidualVQ({ dim: 8, codebookSize: 4, stages: 0 })).toThrow(/stages must be a positive integer/);
  });
});

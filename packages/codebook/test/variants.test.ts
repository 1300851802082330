/**
 * Grouped VQ (= separate quantizers on slices), Gumbel sampling (frequencies follow
 * softmax(score / temperature); deterministic in evaluation) and SimVQ (frozen basis through a
 * learned map: gradients reach only the map; usage on a large codebook).
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as C from "../src/index";

describe("GroupedVQ", () => {
  it("equals separate quantizers on the slices; indices per group", async () => {
    const g = new C.GroupedVQ({ dim: 8, groups: 2, codebookSize: 16, gradient: "ste", seed: 3 });
    g.eval();
    const x = T.normal([5, 8], 0, 1, { seed: 1 });
    const r = g.forward(x);
    expect(r.indices.shape).toEqual([5, 2]);
    const a = g.quantizers.at(0).forward(T.narrow(x, -1, 0, 4));
    const b = g.quantizers.at(1).forward(T.narrow(x, -1, 4, 4));
    await assertClose(r.quantized, T.concat([a.quantized, b.quantized], -1), { atol: 1e-6, rtol: 0 });
    expect(() => new C.GroupedVQ({ dim: 8, groups: 3, codebookSize: 4 })).toThrow(/groups 3 must divide dim 8/);
  });
});

describe("Gumbel sampling", () => {
  it("code frequencies follow softmax(score / temperature) in training; evaluation picks the nearest", () => {
    const vq = new C.VectorQuantizer({ dim: 2, codebookSize: 4, stochastic: true, temperature: 2, ema: false, gradient: "ste", seed: 5 });
    T.assign(
      vq.embed,
      T.tensor([
        [0, 0],
        [1, 0],
        [0, 2],
        [3, 3],
      ]),
    );
    const n = 20000;
    const x = T.expand(T.tensor([[0.5, 0.2]]), [n, 2]);
    const idx = vq.forward(x).indices.dataSync();
    const freq = [0, 0, 0, 0];
    for (const i of idx) freq[i] += 1 / n;
    const e = [
      [0, 0],
      [1, 0],
      [0, 2],
      [3, 3],
    ];
    const s = e.map(([a, b]) => 2 * (0.5 * a + 0.2 * b) - (a * a + b * b)); // 2 x.e - |e|^2
    const w = s.map((v) => Math.exp(v / 2));
    const tot = w.reduce((p, q) => p + q);
    freq.forEach((f, i) => expect(Math.abs(f - w[i] / tot)).toBeLessThan(0.015));
    vq.eval();
    expect(Array.from(vq.forward(T.tensor([[0.5, 0.2]])).indices.dataSync())).toEqual([0]);
  });
});

describe("SimVQ", () => {
  it("the codebook is a frozen basis through a learned map: gradients reach only the map; training keeps a large codebook in use", () => {
    const sim = new C.SimVQ({ dim: 8, codebookSize: 512, seed: 2 });
    expect(Object.keys(sim.namedParameters())).toEqual(["proj.weight"]);
    const x = T.mul(T.normal([1024, 8], 0, 1, { seed: 3 }), 4); // 11x the basis' scale: the map must stretch it
    const { grads } = T.gradients(() => sim.forward(x).loss, sim.namedParameters());
    expect(Math.max(...Array.from(grads["proj.weight"].dataSync(), Math.abs))).toBeGreaterThan(0);
    const opt = new T.AdamW(sim.namedParameters(), { lr: 1e-2, weightDecay: 0 });
    const before = sim.forward(x).stats!.usage;
    for (let s = 0; s < 60; s++) {
      const batch = T.mul(T.normal([1024, 8], 0, 1, { seed: 100 + s }), 4);
      const r = T.tidy(() => T.gradients(() => sim.forward(batch).loss, sim.namedParameters()));
      opt.step(r.grads);
      T.dispose([r.value, r.grads, batch]);
    }
    const after = sim.forward(x).stats!.usage;
    // The same training for a plain gradient-learned codebook (codebook loss + commitment 0.25).
    const vq = new C.VectorQuantizer({ dim: 8, codebookSize: 512, ema: false, commitmentWeight: 0.25, seed: 2 });
    const opt2 = new T.AdamW(vq.namedParameters(), { lr: 1e-2, weightDecay: 0 });
    for (let s = 0; s < 60; s++) {
      const batch = T.mul(T.normal([1024, 8], 0, 1, { seed: 100 + s }), 4);
      const r = T.tidy(() => T.gradients(() => vq.forward(batch).loss, vq.namedParameters()));
      opt2.step(r.grads);
      T.dispose([r.value, r.grads, batch]);
    }
    vq.eval();
    const plain = vq.forward(x).stats!.usage;
    console.log(
      `usage of 512 codes on 1024 inputs: SimVQ ${(before * 100).toFixed(1)}% -> ${(after * 100).toFixed(1)}% after 60 steps; plain gradient VQ ${(plain * 100).toFixed(1)}%`,
    );
    expect(after).toBeGreaterThan(before);
    expect(after).toBeGreaterThan(plain);
  });
});

describe("VQGAN-LC and shared residual codebooks", () => {
  it("SimVQ with a given basis (VQGAN-LC): a frozen feature codebook through a learned projector", () => {
    const feats = T.normal([2000, 12], 0, 1, { seed: 8 }); // "pretrained features", width 12
    const basis = C.kmeans(feats, 256, { iters: 3, seed: 1 }).centres; // [256, 12]
    const lc = new C.SimVQ({ dim: 6, codebookSize: 256, basis, seed: 2 });
    expect(lc.codebook().shape).toEqual([256, 6]);
    expect(lc.proj.weight.shape).toEqual([6, 12]);
    const { grads } = T.gradients(() => lc.forward(T.normal([64, 6], 0, 1, { seed: 9 })).loss, lc.namedParameters());
    expect(Object.keys(grads)).toEqual(["proj.weight"]);
    expect(() => new C.SimVQ({ dim: 6, codebookSize: 100, basis })).toThrow(/basis \[256,12\] must be \[codebookSize = 100, e\]/);
  });

  it("residual VQ with one shared codebook: every stage uses the same codes; the error still falls", () => {
    const rvq = new C.ResidualVQ({ dim: 8, codebookSize: 64, stages: 3, sharedCodebook: true, kmeansInit: true, seed: 2 });
    expect(rvq.layers.at(0)).toBe(rvq.layers.at(2));
    expect(Object.keys(rvq.namedParameters()).length + Object.keys(rvq.namedBuffers()).length).toBeGreaterThan(0);
    for (let s = 0; s < 3; s++) T.tidy(() => void rvq.forward(T.normal([512, 8], 0, 1, { seed: s })));
    rvq.eval();
    const x = T.normal([512, 8], 0, 1, { seed: 77 });
    const errs = rvq.forward(x).perStage.map((q) => T.mseLoss(q, x).itemSync());
    expect(errs[2]).toBeLessThan(errs[0]);
  });
});

/**
 * Composition (DESIGN.md, "the token mixer"): a config's token mixer or MLP can be swapped
 * without touching the rest: GPT-2 with sigmoid attention, a Llama/Mamba hybrid, a PoolFormer
 * LM. Each swapped model keeps the three faces equal, saves and reloads, and trains.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { MambaMixer } from "@tessera/ssm";
import { CodebookFeatures } from "@tessera/codebook";
import { generate, hfStateDict, LMTrainer, modelFromConfig, PoolingMixer, SelfAttention, type CausalLM, type LMState } from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";
import { CONFIGS } from "./configs";

const maxAbs = (t: T.Tensor) => Math.max(...Array.from(t.dataSync(), Math.abs));

async function facesAgree(m: CausalLM, label: string): Promise<void> {
  const x = T.randint(0, m.vocabSize, [2, 9], { seed: 4, dtype: "int32" });
  const whole = m.forward(x).logits;
  let state: LMState | undefined;
  const steps: T.Tensor[] = [];
  for (let t = 0; t < 9; t++) {
    const r = m.forward(T.narrow(x, 1, t, 1), { state });
    steps.push(r.logits);
    state = r.state;
  }
  await assertClose(T.concat(steps, 1), whole, { atol: 1e-5 * maxAbs(whole), rtol: 1e-5, label });
}

describe("swapping token mixers", () => {
  it("GPT-2 with sigmoid attention: only the mixer changes; decoding equals forward", async () => {
    const cfg = CONFIGS.gpt2;
    const sigmoid = (_l: number, d: number) => new SelfAttention({ dModel: d, nHeads: 3, fused: true, qkvBias: true, outBias: true, layout: "in-out", kind: "sigmoid" });
    const a = modelFromConfig(cfg, { seed: 1 });
    const b = modelFromConfig(cfg, { seed: 1, mixer: sigmoid });
    expect(Object.keys(hfStateDict(b.model, b.info))).toEqual(Object.keys(hfStateDict(a.model, a.info)));
    const bm = b.model as CausalLM;
    // Same weights, different mixing: the outputs differ.
    bm.loadStateDict(a.model.stateDict());
    const x = T.tensor([[1, 2, 3, 4]], { dtype: "int32" });
    expect(maxAbs(T.sub(bm.forward(x).logits, (a.model as CausalLM).forward(x).logits))).toBeGreaterThan(1e-3);
    await facesAgree(bm, "sigmoid gpt2");
  });

  it("a Llama/Mamba hybrid (Mamba in layer 1) decodes, generates, saves and reloads with the same factory", async () => {
    const mixer = (l: number, d: number) => (l === 1 ? new MambaMixer({ dModel: d, dState: 4, dConv: 3, expand: 2, seed: 5 }) : undefined);
    const p = modelFromConfig(CONFIGS.llama, { seed: 2, mixer });
    const m = p.model as CausalLM;
    const names = Object.keys(hfStateDict(m, p.info));
    expect(names).toContain("model.layers.0.self_attn.q_proj.weight");
    expect(names).toContain("blocks.1.mixer.A_log"); // a swapped mixer saves under its own names
    expect(names).toContain("model.layers.1.input_layernorm.weight");
    await facesAgree(m, "hybrid");
    const dir = mkdtempSync(join(tmpdir(), "tessera-hybrid-"));
    try {
      await savePretrained(dir, p);
      expect(() => loadPretrained(dir)).toThrow(/lacks 4 tensor\(s\): 'model.layers.1.self_attn.q_proj.weight'/);
      const back = loadPretrained(dir, { mixer });
      const x = T.tensor([[3, 1, 4, 1, 5]], { dtype: "int32" });
      expect(Array.from((back.model as CausalLM).forward(x).logits.dataSync())).toEqual(Array.from(m.forward(x).logits.dataSync()));
      const g = await generate(back.model as CausalLM, [[3, 1, 4]], { maxNewTokens: 4 });
      expect(g.generated[0]).toEqual((await generate(m, [[3, 1, 4]], { maxNewTokens: 4 })).generated[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("PoolFormer: the pooling mixer is mean(x_{t-k+1..t}) - x_t; a pooling LM decodes and trains", async () => {
    const pool = new PoolingMixer(3);
    const x = T.normal([2, 6, 4], 0, 1, { seed: 2 });
    const v = x.arraySync() as number[][][];
    const want = v.map((seq) =>
      seq.map((row, t) =>
        row.map((xi, j) => {
          const win = seq.slice(Math.max(0, t - 2), t + 1);
          return win.reduce((s, r) => s + r[j], 0) / win.length - xi;
        }),
      ),
    );
    const wantT = T.tensor(want);
    await assertClose(pool.forward(x).y, wantT, { atol: 1e-6, rtol: 1e-6 });
    let state = pool.initState();
    const ys: T.Tensor[] = [];
    for (let t = 0; t < 6; t++) {
      const r = pool.step(T.select(x, 1, t), state);
      ys.push(r.y);
      state = r.state;
    }
    await assertClose(T.stack(ys, 1), wantT, { atol: 1e-6, rtol: 1e-6, label: "steps" });
    expect(() => new PoolingMixer(0)).toThrow(/poolSize 0 must be a positive integer/);

    const p = modelFromConfig(CONFIGS.gpt2, { seed: 3, mixer: () => new PoolingMixer(3) });
    const m = p.model as CausalLM;
    await facesAgree(m, "poolformer");
    const trainer = new LMTrainer(m, { lr: 1e-2 });
    const batch = T.tensor(
      [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [2, 3, 4, 5, 6, 7, 8, 9],
      ],
      { dtype: "int32" },
    );
    const first = (await trainer.trainStep(batch)).loss;
    let last = first;
    for (let s = 0; s < 30; s++) last = (await trainer.trainStep(batch)).loss;
    expect(last).toBeLessThan(0.5 * first);
    trainer.dispose();
  });

  it("the MLP can be swapped or removed (an attention-only GPT-2)", () => {
    const p = modelFromConfig(CONFIGS.gpt2, { seed: 1, mlp: () => null });
    const names = Object.keys(hfStateDict(p.model, p.info));
    expect(names.some((n) => n.includes("mlp") || n.includes("ln_2"))).toBe(false);
    expect((p.model as CausalLM).forward(T.tensor([[1, 2]], { dtype: "int32" })).logits.shape).toEqual([1, 2, 37]);
  });

  it("a codebook-features bottleneck after a chosen block (@tessera/codebook): decodes, records codes, obeys interventions, trains", async () => {
    const cf = new CodebookFeatures({ dim: 24, numCodes: 64, k: 2, seed: 4 });
    const p = modelFromConfig(CONFIGS.gpt2, { seed: 1, post: (l) => (l === 1 ? cf : undefined) });
    const m = p.model as CausalLM;
    expect(Object.keys(hfStateDict(m, p.info))).toContain("blocks.1.post.codebook");
    await facesAgree(m, "codebook features");
    cf.record = true;
    const x = T.tensor([[1, 2, 3, 4, 5, 6]], { dtype: "int32" });
    const before = m.forward(x).logits;
    expect(cf.lastIndices!.shape).toEqual([1, 6, 2]);
    expect(cf.activeCodes()).toBeGreaterThan(0);
    cf.force = 7; // steer: every position uses code 7
    const forced = m.forward(x).logits;
    expect(Math.max(...Array.from(T.sub(forced, before).dataSync(), Math.abs))).toBeGreaterThan(1e-4);
    cf.force = null;
    const trainer = new LMTrainer(m, { lr: 1e-2 });
    const first = (await trainer.trainStep(T.tensor([[1, 2, 3, 4, 5, 6, 7, 8]], { dtype: "int32" }))).loss;
    let last = first;
    for (let s = 0; s < 20; s++) last = (await trainer.trainStep(T.tensor([[1, 2, 3, 4, 5, 6, 7, 8]], { dtype: "int32" }))).loss;
    expect(last).toBeLessThan(first);
    trainer.dispose();
  });
});

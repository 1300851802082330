/**
 * Training utilities: lmLoss against a hand computation, clipping as torch's
 * clip_grad_norm_, schedules at known steps, and a tiny GPT-2 that learns a synthetic task
 * whose checkpoint uses Hugging Face names and reloads to the same logits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";
import { clipGradNorm, LMTrainer, lmLoss, lrSchedule, modelFromConfig, type CausalLM } from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";

describe("losses, clipping and schedules", () => {
  it("lmLoss: mean over positions of -log softmax(logits_t)[ids_{t+1}], skipping -100", () => {
    const logits = T.normal([2, 4, 5], 0, 1, { seed: 1 });
    const labels = T.tensor(
      [
        [1, 2, 3, 4],
        [0, -100, 2, 1],
      ],
      { dtype: "int32" },
    );
    const z = logits.arraySync() as number[][][];
    const y = labels.arraySync() as number[][];
    let total = 0;
    let n = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 3; t++) {
        const target = y[b][t + 1];
        if (target === -100) continue;
        const row = z[b][t];
        const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
        total += lse - row[target];
        n++;
      }
    }
    expect(Math.abs(lmLoss(logits, labels).itemSync() - total / n)).toBeLessThan(1e-6);
  });

  it("clipGradNorm scales by maxNorm / (total + 1e-6) only above the limit", async () => {
    const g = { a: T.tensor([3, 0]), b: T.tensor([[0, 4]]) }; // total norm 5
    const same = await clipGradNorm(g, 10);
    expect(same.totalNorm).toBeCloseTo(5, 6);
    expect(same.grads).toBe(g);
    const c = await clipGradNorm(g, 1);
    const k = 1 / (5 + 1e-6);
    expect(Array.from(c.grads.a.dataSync())).toEqual([Math.fround(3 * k), 0].map(Math.fround));
    expect(c.grads.b.dataSync()[1]).toBeCloseTo(4 * k, 6);
    await expect(clipGradNorm(g, 0)).rejects.toThrow(/maxNorm must be positive/);
  });

  it("lrSchedule: warmup, cosine, linear and constant at known steps", () => {
    const cos = lrSchedule({ peak: 1, warmup: 4, total: 14, minLr: 0.1 });
    expect([0, 1, 3].map(cos)).toEqual([0.25, 0.5, 1]);
    expect(cos(4)).toBeCloseTo(1, 12);
    expect(cos(9)).toBeCloseTo(0.55, 12); // halfway: 0.1 + 0.9 * 0.5
    expect(cos(14)).toBeCloseTo(0.1, 12);
    expect(cos(100)).toBeCloseTo(0.1, 12);
    const lin = lrSchedule({ peak: 2, total: 10, kind: "linear" });
    expect([0, 5, 10].map(lin)).toEqual([2, 1, 0]);
    expect(lrSchedule({ peak: 3, warmup: 2, total: 5, kind: "constant" })(4)).toBe(3);
  });
});

describe("training a tiny GPT-2", () => {
  it("lowers the loss on a synthetic task; the checkpoint has Hugging Face names and reloads exactly", async () => {
    const V = 16;
    const config = { model_type: "gpt2", vocab_size: V, n_embd: 32, n_head: 4, n_layer: 2, n_positions: 16, initializer_range: 0.02 };
    const p = modelFromConfig(config, { seed: 1 });
    const m = p.model as CausalLM;
    // The task: x_{t+1} = (x_t + 3) mod V from a random start; fully predictable after the first token.
    const batch = (seed: number) => {
      const starts = T.tidy(() => T.randint(0, V, [8], { seed }).dataSync());
      return T.tensor(
        Array.from(starts, (s) => Array.from({ length: 12 }, (_, t) => (s + 3 * t) % V)),
        { dtype: "int32" },
      );
    };
    const steps = 80;
    const trainer = new LMTrainer(m, { lr: 3e-3, weightDecay: 0.01, maxGradNorm: 1, schedule: lrSchedule({ peak: 3e-3, warmup: 8, total: steps }) });
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    for (let s = 0; s < steps; s++) {
      const x = batch(s);
      losses.push((await trainer.trainStep(x)).loss);
      x.dispose();
      if (s === 1) tensorsAfterFirst = T.memory().numTensors;
    }
    expect(T.memory().numTensors).toBe(tensorsAfterFirst); // flat over the run
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    console.log(`tiny GPT-2 loss: ${first.toFixed(3)} -> ${last.toFixed(3)} (ln V = ${Math.log(V).toFixed(3)})`);
    expect(first).toBeGreaterThan(2.3);
    expect(last).toBeLessThan(0.5 * first);
    trainer.dispose();
    m.eval();

    const dir = mkdtempSync(join(tmpdir(), "tessera-train-"));
    try {
      await savePretrained(dir, p);
      const names = Object.keys(loadSafetensors(join(dir, "model.safetensors")).tensors).sort();
      expect(names).toContain("transformer.h.1.attn.c_attn.weight");
      expect(names).toContain("transformer.wpe.weight");
      expect(names).not.toContain("lm_head.weight"); // tied, as Hugging Face saves GPT-2
      expect(names.every((n) => n.startsWith("transformer."))).toBe(true);
      const back = loadPretrained(dir);
      const x = batch(999);
      const a = m.forward(x).logits.dataSync();
      const b = (back.model as CausalLM).forward(x).logits.dataSync();
      expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
      back.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

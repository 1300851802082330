/**
 * The tasks runner's machinery on a tiny grid (seconds; never the real grid): the loss falls,
 * the suite writes its rows and progress lines, and self-pretraining trains the backbone whose
 * weights fine-tuning then starts from.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { runBench } from "../src/cli";
import { maskedBatch, TaskModel, runTask, type RunOptions } from "../src/accuracy/runner";
import { MIXER_NAMES } from "../src/accuracy/mixers";
import { taskSpec, TASK_NAMES } from "../src/accuracy/task-data";
import { SUITES, ALL_SUITES } from "../src/suites/index";
import { accuracyTable, beatsChance, TASK_GRIDS } from "../src/suites/tasks";

const base: Omit<RunOptions, "mixer" | "pretrain"> = { steps: 20, pretrainSteps: 0, batch: 8, lr: 1e-2, dModel: 16, layers: 2, seed: 0 };
const snapshot = (m: TaskModel, name: string) => Float32Array.from(m.namedParameters()[name].dataSync() as Float32Array);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("tasks runner", () => {
  it("the loss falls over a few steps (softmax attention, selective copying)", async () => {
    const task = taskSpec("copying").load("tiny");
    const losses: number[] = [];
    const r = await runTask(task, { ...base, steps: 30, batch: 16, mixer: "softmax", pretrain: "none", onStep: (_p, _s, l) => losses.push(l) });
    expect(losses.length).toBe(30);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // From ln(10) (uniform over the vocabulary) towards ln(8) (some data token) and below; seeded, so deterministic.
    expect(mean(losses.slice(0, 5))).toBeGreaterThan(2.2);
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.15);
    expect(r.lossLast).toBeLessThan(r.lossFirst);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.tokensPerS).toBeGreaterThan(0);
    expect(r.peakBytes).toBeGreaterThan(0);
  });

  it("self-pretraining trains the backbone (not the classifier head) and fine-tuning starts from its weights", async () => {
    const task = taskSpec("listops").load("tiny");
    const fresh = new TaskModel(task, "mamba", base);
    const init = { embed: snapshot(fresh, "lm.embed.weight"), cls: snapshot(fresh, "cls.weight") };
    fresh.dispose();
    const seen: Record<string, Float32Array> = {};
    const phases: string[] = [];
    const r = await runTask(task, {
      ...base,
      steps: 3,
      pretrainSteps: 4,
      mixer: "mamba",
      pretrain: "causal",
      onStep: (p) => phases.push(p),
      onPretrained: (m) => ((seen.pre = snapshot(m, "lm.embed.weight")), (seen.preCls = snapshot(m, "cls.weight"))),
      onFinetuneStart: (m) => (seen.start = snapshot(m, "lm.embed.weight")),
      onDone: (m) => ((seen.done = snapshot(m, "lm.embed.weight")), (seen.doneCls = snapshot(m, "cls.weight"))),
    });
    expect(phases).toEqual(["pretrain", "pretrain", "pretrain", "pretrain", "finetune", "finetune", "finetune"]);
    expect(maxDiff(seen.pre, init.embed)).toBeGreaterThan(1e-4); // pretraining changed the backbone
    expect(maxDiff(seen.preCls, init.cls)).toBe(0); // ... not the head it does not use
    expect(maxDiff(seen.start, seen.pre)).toBe(0); // fine-tuning starts from the pretrained weights
    expect(maxDiff(seen.done, seen.pre)).toBeGreaterThan(1e-5); // and trains on
    expect(maxDiff(seen.doneCls, init.cls)).toBeGreaterThan(1e-5);
    expect(r.pretrainSteps).toBe(4);
    expect(r.pretrainLossLast).toBeDefined();
    // Without self-pretraining, fine-tuning starts from the seeded initial weights.
    const start: Float32Array[] = [];
    await runTask(task, { ...base, steps: 1, mixer: "mamba", pretrain: "none", onFinetuneStart: (m) => start.push(snapshot(m, "lm.embed.weight")) });
    expect(maxDiff(start[0], init.embed)).toBe(0);
  });

  it("masked self-pretraining corrupts 15% of the non-padding tokens (BERT 80/10/10 with an extra [MASK] id) and its loss falls", async () => {
    const task = taskSpec("listops").load("tiny");
    const maskId = task.vocab;
    const xs = task.train.slice(0, 200);
    const { inputIds, labels } = maskedBatch(task, xs, maskId, 3);
    const inp = inputIds.arraySync(2);
    const lab = labels.arraySync(2);
    let eligible = 0;
    let selected = 0;
    let masked = 0;
    xs.forEach((x, b) => {
      for (let t = 0; t < task.seqLen; t++) {
        if (t >= x.length) {
          expect(lab[b][t]).toBe(-100); // padding is never selected
          continue;
        }
        eligible++;
        if (lab[b][t] === -100) expect(inp[b][t]).toBe(x.ids[t]);
        else {
          selected++;
          expect(lab[b][t]).toBe(x.ids[t]); // the label is the original token
          if (inp[b][t] === maskId) masked++;
        }
      }
    });
    // Selection rate 0.15 within 4 binomial standard errors; [MASK] share of the selected 0.8 within 4 s.e.
    expect(Math.abs(selected / eligible - 0.15)).toBeLessThan(4 * Math.sqrt((0.15 * 0.85) / eligible));
    expect(Math.abs(masked / selected - 0.8)).toBeLessThan(4 * Math.sqrt((0.8 * 0.2) / selected));
    T.dispose([inputIds, labels]);

    const seen: Record<string, number[]> = {};
    const pre: number[] = [];
    const r = await runTask(task, {
      ...base,
      steps: 1,
      pretrainSteps: 24,
      batch: 16,
      mixer: "softmax",
      pretrain: "masked",
      onStep: (p, _s, l) => p === "pretrain" && pre.push(l),
      onPretrained: (m) => (seen.embed = [...m.namedParameters()["lm.embed.weight"].shape]),
    });
    expect(seen.embed).toEqual([task.vocab + 1, base.dModel]); // the [MASK] row
    expect(pre.length).toBe(24);
    // Starts near ln(vocab + 1) (uniform over the tied head) and falls.
    expect(Math.abs(pre[0] - Math.log(task.vocab + 1))).toBeLessThan(1);
    expect(r.pretrainLossLast!).toBeLessThan(r.pretrainLossFirst! - 0.2);
    expect(r.pretrainSteps).toBe(24);
  });

  it("every mixer builds, runs forward and backward in the backbone, on a classification and a sequence task", async () => {
    for (const name of ["pathfinder", "induction"]) {
      const task = taskSpec(name).load("tiny");
      for (const mixer of MIXER_NAMES) {
        const r = await runTask(
          { ...task, train: task.train.slice(0, 8), test: task.test.slice(0, 4), validation: task.validation.slice(0, 4) },
          { ...base, steps: 1, batch: 2, mixer, pretrain: "none" },
        );
        expect(Number.isFinite(r.lossFirst), `${name} ${mixer}`).toBe(true);
      }
    }
  });

  it("the tasks suite writes its rows, progress lines and table; it is not in the default list", async () => {
    expect(SUITES.some((s) => s.name === "tasks")).toBe(false);
    expect(ALL_SUITES.some((s) => s.name === "tasks")).toBe(true);
    const lines: string[] = [];
    const rows = await runBench({ suites: ["tasks"], backend: "cpu", quick: true }, (l) => lines.push(l));
    const plan = ALL_SUITES.find((s) => s.name === "tasks")!.plan({ tier: "quick", backend: "cpu" });
    expect(rows.map((r) => ({ case: r.case, impl: r.impl }))).toEqual(plan);
    const progress = lines.filter((l) => l.startsWith("["));
    expect(progress.length).toBe(rows.length);
    progress.forEach((l, i) =>
      expect(l).toMatch(new RegExp(`^\\[${i + 1}/${rows.length}\\] tasks ${rows[i].case} \\S+ pretrain=(none|causal) \\.\\.\\. acc \\d\\.\\d\\d \\(\\d+\\.\\d s\\)$`)),
    );
    for (const r of rows) {
      expect(r).toMatchObject({ suite: "tasks", backend: "cpu", runs: 1 });
      for (const k of [
        "accuracy",
        "val_accuracy",
        "chance",
        "steps",
        "pretrain_steps",
        "tokens_per_s",
        "peak_bytes",
        "median_ms",
        "test_n",
        "loss_first",
        "loss_last",
        "params",
      ] as const)
        expect(typeof r[k], k).toBe("number");
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.accuracy).toBeLessThanOrEqual(1);
      expect(["none", "causal"]).toContain(r.pretrain);
      expect(r.pretrain_steps! > 0).toBe(r.pretrain === "causal");
      expect(JSON.parse(JSON.stringify(r))).toEqual(r); // survives --json
    }
    const table = accuracyTable(rows);
    expect(table).toMatch(/\| mixer \| from scratch \| self-pretrained \(causal\) \| chance \| steps \| wall \|/);
    expect(table).toMatch(/\| softmax \| \d\.\d\d \| \d\.\d\d \| \d\.\d\d \| 6 \(\+3\) \|/);
  });

  it("plans the default grid (ListOps and MQAR, every mixer, none + causal), --full (every task) and --pretrain's columns", () => {
    const suite = ALL_SUITES.find((s) => s.name === "tasks")!;
    const def = suite.plan({ tier: "default", backend: "cpu" });
    expect(def.length).toBe(2 * MIXER_NAMES.length * 2);
    expect(new Set(def.map((p) => p.case))).toEqual(new Set(["listops", "mqar"]));
    expect(suite.plan({ tier: "full", backend: "cpu" }).length).toBe(TASK_NAMES.length * MIXER_NAMES.length * 2);
    const masked = suite.plan({ tier: "default", backend: "cpu", pretrain: ["none", "masked"] });
    expect(masked.length).toBe(2 * MIXER_NAMES.length * 2);
    expect(new Set(masked.map((p) => p.impl.split(" ")[1]))).toEqual(new Set(["pretrain=none", "pretrain=masked"]));
    expect(MIXER_NAMES.length).toBe(13);
    expect(TASK_GRIDS.default.data).toBe("small");
    expect(beatsChance({ suite: "tasks", case: "x", impl: "y", backend: "cpu", median_ms: 1, min_ms: 1, max_ms: 1, runs: 1, accuracy: 0.3, chance: 0.25, test_n: 2000 })).toBe(
      true,
    );
    expect(beatsChance({ suite: "tasks", case: "x", impl: "y", backend: "cpu", median_ms: 1, min_ms: 1, max_ms: 1, runs: 1, accuracy: 0.26, chance: 0.25, test_n: 2000 })).toBe(
      false,
    );
  });
});

/**
 * The tasks suite (issue 16, section 2): every token mixer trained inside one backbone on the
 * task generators, without and with self-pretraining, scored on the fixed test splits. Not in
 * `npm run bench`'s default list (it trains models: minutes); run it by name:
 *   npm run bench -- tasks            the default grid: ListOps and MQAR x 13 mixers x {none, causal}
 *   npm run bench -- tasks --full     all six tasks, 100 steps (Pathfinder, image: 50)
 *   --pretrain none,causal,masked     the self-pretraining columns (default none,causal; masked = denoising)
 *   npm run bench -- tasks --quick    the smoke grid of the test suite (seconds)
 * One row per run: `accuracy` (test), `val_accuracy`, `steps`, `pretrain`, `pretrain_steps`,
 * `tokens_per_s`, `peak_bytes`, `chance`, wall time as `median_ms` (runs = 1), and `curve`: validation
 * accuracy at 5 checkpoints of fine-tuning (and before it), for the report's accuracy-vs-step plot.
 */
import { cpuThreads } from "../backends";
import type { Row, Tier } from "../harness";
import { formatWall } from "../report";
import type { PlannedRow, Suite } from "../suite";
import { MIXERS, MIXER_NAMES } from "../accuracy/mixers";
import { runTask, type Pretrain } from "../accuracy/runner";
import { TASK_NAMES, taskSpec, type DataSize } from "../accuracy/task-data";

export interface TaskGrid {
  tasks: string[];
  mixers: string[];
  pretrain: Pretrain[];
  data: DataSize;
  /** Fine-tuning steps (per task; `default` for the rest). */
  steps: Record<string, number>;
  /** Validation-accuracy checkpoints per run (the report's accuracy-vs-step curves). */
  curvePoints: number;
  /** Self-pretraining steps, as a fraction of the fine-tuning steps. */
  pretrainRatio: number;
  batch: number;
  dModel: number;
  layers: number;
  lr: number;
  seed: number;
}

/** The default grid; `--full` is the same model and training on every task with more steps. */
const DEFAULT_GRID: TaskGrid = {
  tasks: ["listops", "mqar"],
  mixers: MIXER_NAMES,
  pretrain: ["none", "causal"],
  data: "small",
  steps: { default: 40 },
  pretrainRatio: 0.5,
  curvePoints: 5,
  batch: 16,
  dModel: 32,
  layers: 2,
  lr: 5e-3,
  seed: 0,
};

export const TASK_GRIDS: Record<Tier, TaskGrid> = {
  // The tests' smoke grid: the default grid's schedule on tiny data and a smaller model.
  quick: { ...DEFAULT_GRID, tasks: ["induction"], mixers: ["softmax", "mamba"], data: "tiny", steps: { default: 6 }, batch: 8, dModel: 16, lr: 3e-3 },
  default: DEFAULT_GRID,
  // Pathfinder (256 tokens) and the image (196) cost 2-3x ListOps per step: half the steps, so the whole grid is about an hour of an idle 2-core machine.
  full: { ...DEFAULT_GRID, tasks: TASK_NAMES, steps: { default: 100, pathfinder: 50, image: 50 } },
};

const stepsOf = (g: TaskGrid, task: string) => g.steps[task] ?? g.steps.default;
const implName = (mixer: string, pretrain: Pretrain) => `${mixer} pretrain=${pretrain}`;

/** The tier's grid, with the `--pretrain` columns when given. */
function gridOf(tier: Tier, pretrain?: readonly string[]): TaskGrid {
  const g = TASK_GRIDS[tier];
  return pretrain?.length ? { ...g, pretrain: pretrain as Pretrain[] } : g;
}

function planOf(tier: Tier, pretrain?: readonly string[]): PlannedRow[] {
  const g = gridOf(tier, pretrain);
  return g.tasks.flatMap((task) => g.mixers.flatMap((mixer) => g.pretrain.map((p) => ({ case: task, impl: implName(mixer, p) }))));
}

export const tasksSuite: Suite = {
  name: "tasks",
  description:
    "accuracy: every token mixer in one small backbone on ListOps and MQAR (--full: + Pathfinder, image, induction, selective copying), without / with self-pretraining (causal; --pretrain adds masked denoising) (trains models: not in the default list)",
  plan: ({ tier, pretrain }) => planOf(tier, pretrain),
  async run(ctx) {
    const g = gridOf(ctx.tier, ctx.pretrain);
    ctx.log(
      `tasks: d = ${g.dModel}, ${g.layers} layers, batch ${g.batch}, AdamW lr ${g.lr}, fine-tuning steps ${JSON.stringify(g.steps)}, self-pretraining ${g.pretrainRatio} x that; cpu, ${cpuThreads} thread(s)`,
    );
    const rows: Row[] = [];
    for (const name of g.tasks) {
      const spec = taskSpec(name);
      const task = spec.load(g.data);
      const steps = stepsOf(g, name);
      for (const mixer of g.mixers) {
        for (const pretrain of g.pretrain) {
          const base = { suite: "tasks", case: name, impl: implName(mixer, pretrain), backend: ctx.backend };
          let row: Row;
          try {
            const r = await runTask(task, {
              mixer,
              pretrain,
              steps,
              pretrainSteps: Math.round(steps * g.pretrainRatio),
              batch: g.batch,
              lr: g.lr,
              curvePoints: g.curvePoints,
              dModel: g.dModel,
              layers: g.layers,
              seed: g.seed,
            });
            const ms = r.seconds * 1000;
            row = {
              ...base,
              median_ms: ms,
              min_ms: ms,
              max_ms: ms,
              runs: 1,
              peak_bytes: r.peakBytes,
              task: name,
              mixer,
              pretrain,
              accuracy: r.accuracy,
              test_n: r.testCount,
              val_accuracy: r.valAccuracy,
              chance: task.chance,
              steps: r.steps,
              pretrain_steps: r.pretrainSteps,
              tokens_per_s: r.tokensPerS,
              loss_first: r.lossFirst,
              loss_last: r.lossLast,
              params: r.params,
              curve: r.curve,
              note: `${task.size}; d=${g.dModel} L=${g.layers} B=${g.batch}`,
            };
          } catch (e) {
            row = { ...base, median_ms: NaN, min_ms: NaN, max_ms: NaN, runs: 0, task: name, mixer, pretrain, note: `failed: ${(e as Error).message.split("\n")[0].slice(0, 200)}` };
          }
          rows.push(row);
          ctx.onRow?.(row);
        }
      }
    }
    return rows;
  },
  table: (rows) => accuracyTable(rows),
};

/** accuracy > chance + 2 standard errors of a chance-level guesser over the test_n scored items. */
export function beatsChance(r: Row): boolean {
  if (r.accuracy === undefined || r.chance === undefined) return false;
  const n = r.test_n ?? 1;
  return r.accuracy > r.chance + 2 * Math.sqrt((r.chance * (1 - r.chance)) / n);
}

const acc = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(2));

/**
 * The summary: one block per task, a row per mixer with the test accuracy without / with
 * self-pretraining, the chance level, steps, and wall time; markdown-compatible.
 */
export function accuracyTable(rows: Row[]): string {
  const lines: string[] = [];
  const tasks = [...new Set(rows.filter((r) => r.suite === "tasks").map((r) => r.case))];
  const pretrains = [...new Set(rows.map((r) => r.pretrain).filter((p): p is string => !!p))];
  for (const task of tasks) {
    const group = rows.filter((r) => r.suite === "tasks" && r.case === task);
    const first = group.find((r) => r.chance !== undefined);
    lines.push(`\ntasks / ${task}${first?.note ? ` (${first.note})` : ""}: test accuracy`);
    lines.push(`| mixer | ${pretrains.map((p) => (p === "none" ? "from scratch" : `self-pretrained (${p})`)).join(" | ")} | chance | steps | wall |`);
    lines.push(`| --- |${pretrains.map(() => " ---: |").join("")} ---: | ---: | ---: |`);
    const mixers = [...new Set(group.map((r) => r.mixer ?? r.impl))];
    for (const m of mixers) {
      const mine = group.filter((r) => (r.mixer ?? r.impl) === m);
      const cells = pretrains.map((p) => {
        const r = mine.find((x) => x.pretrain === p);
        return r ? (r.runs > 0 ? acc(r.accuracy) : "failed") : "-";
      });
      const none = mine.find((x) => x.pretrain === "none") ?? mine[0];
      const pre = mine.find((x) => x.pretrain !== "none");
      const steps = pre?.pretrain_steps ? `${none?.steps ?? "-"} (+${pre.pretrain_steps})` : String(none?.steps ?? "-");
      const wall = mine
        .filter((r) => Number.isFinite(r.median_ms))
        .map((r) => formatWall(r.median_ms))
        .join(" / ");
      lines.push(`| ${m} | ${cells.join(" | ")} | ${acc(first?.chance)} | ${steps} | ${wall} |`);
    }
  }
  const beat = tasks.map((task) => {
    const group = rows.filter((r) => r.suite === "tasks" && r.case === task && r.accuracy !== undefined && r.chance !== undefined);
    const above = [...new Set(group.filter(beatsChance).map((r) => `${r.mixer}${r.pretrain !== "none" ? "*" : ""}`))];
    return `  ${task}: ${above.length ? above.join(", ") : "none"}`;
  });
  lines.push(
    `\nabove chance by more than 2 binomial standard errors (sqrt(p (1 - p) / n) at the chance level p, n test examples or positions; * = with self-pretraining):\n${beat.join("\n")}`,
  );
  lines.push(`mixers:\n${MIXERS.map((m) => `  ${m.name}: ${m.description}`).join("\n")}`);
  return lines.join("\n");
}

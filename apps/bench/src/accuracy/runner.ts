/**
 * One run of the tasks grid: a small backbone with a chosen token mixer, optionally
 * self-pretrained on the task's own training inputs (Amos, Berant & Gupta 2024, "Never Train
 * from Scratch": causal next-token prediction or masked denoising), then fine-tuned on the task,
 * then scored on the fixed test split.
 *
 * Backbone (the same for every mixer): token embedding + learned absolute positions (@tessera/models
 * `CausalLM`, head tied to the embedding) -> `layers` pre-norm MetaFormer `Block`s (RMSNorm ->
 * mixer -> residual -> RMSNorm -> GELU MLP (2 x width) -> residual) -> RMSNorm. Heads:
 *  - classification: mean of the final hidden states over the non-padding positions -> linear ->
 *    classes, cross-entropy;
 *  - sequence tasks: the tied LM head at every position, cross-entropy where the label is not -100
 *    (the label sits at the position that must output it: no shift);
 *  - self-pretraining 'causal': the tied LM head, next-token loss (`lmLoss`) over the inputs, padding left out;
 *  - self-pretraining 'masked': BERT-style denoising (@tessera/masked `bertMask`, 15% of the
 *    non-padding tokens selected, 80% -> an extra [MASK] id = the task's vocabulary size, 10% a
 *    random token, 10% unchanged), the tied LM head predicts the original token at each selected
 *    position (`mlmLoss`, no shift). Amos et al. use denoising for bidirectional backbones; with
 *    the causal mixers here the prediction at a position sees the left context and the corrupted
 *    token itself, so the task is "repair the token from its prefix".
 * AdamW (weight decay 0.01), linear warmup then cosine decay, global gradient-norm clipping at 1.
 * Everything is seeded: weights (seed), batches (Mulberry32), data (taskSplits).
 */
import * as T from "@tessera/tensor";
import { Block, CausalLM, lmLoss, MLP } from "@tessera/models";
import { bertMask, mlmLoss } from "@tessera/masked";
import { seededRandom } from "../tasks/random";
import { mixerSpec } from "./mixers";
import { trainLoop } from "./train-loop";
import type { Example, TaskData } from "./task-data";

export type Pretrain = "none" | "causal" | "masked";
export const PRETRAINS: readonly Pretrain[] = ["none", "causal", "masked"];

export interface ModelOptions {
  dModel: number;
  layers: number;
  seed: number;
  /** Add a [MASK] token (id = the task's vocabulary size) to the embedding, for masked self-pretraining. */
  maskToken?: boolean;
}

/** The backbone with a classifier head (classification tasks) or the tied LM head. */
export class TaskModel extends T.Module {
  readonly lm: CausalLM;
  readonly cls: T.Linear | null;
  /** The [MASK] id (the task's vocabulary size), or null when the model has none. */
  readonly maskId: number | null;
  constructor(
    readonly task: Pick<TaskData, "vocab" | "seqLen" | "kind" | "classes">,
    mixer: string,
    o: ModelOptions,
  ) {
    super();
    const gen = new T.Generator(o.seed);
    const spec = mixerSpec(mixer);
    const d = o.dModel;
    this.maskId = o.maskToken ? task.vocab : null;
    const blocks = Array.from(
      { length: o.layers },
      (_, layer) =>
        new Block({
          norm1: new T.RMSNorm(d, { eps: 1e-5 }),
          mixer: spec.build({ layer, dModel: d, seqLen: task.seqLen, seed: gen }),
          norm2: new T.RMSNorm(d, { eps: 1e-5 }),
          mlp: new MLP({ dModel: d, hidden: 2 * d, activation: "gelu", seed: gen }),
        }),
    );
    this.lm = this.registerModule(
      "lm",
      new CausalLM({
        vocabSize: task.vocab + (o.maskToken ? 1 : 0),
        dModel: d,
        blocks,
        finalNorm: new T.RMSNorm(d, { eps: 1e-5 }),
        maxPositions: task.seqLen,
        tieEmbeddings: true,
        seed: gen,
      }),
    );
    this.cls = task.kind === "classify" ? this.registerModule("cls", new T.Linear(d, task.classes, { seed: gen })) : null;
  }

  /** Final normed hidden states [B, T, D]. */
  hidden(ids: T.Tensor): T.Tensor {
    const lm = this.lm;
    const Tn = ids.shape[1];
    let h = T.add(lm.embed.forward(ids), lm.pos!.forward(T.arange(0, Tn, 1, { dtype: "int32" })));
    for (const b of lm.blocks) h = b.forward(h).y;
    return lm.norm.forward(h);
  }

  /** Class logits [B, C] from the mean over the positions where mask [B, T, 1] is 1. */
  classify(ids: T.Tensor, mask: T.Tensor): T.Tensor {
    const h = this.hidden(ids);
    const pooled = T.div(T.sum(T.mul(h, mask), 1), T.sum(mask, 1)); // [B, D]
    return this.cls!.forward(pooled);
  }

  /** LM logits [B, T, V] (tied head). */
  logits(ids: T.Tensor): T.Tensor {
    return this.lm.forward(ids).logits;
  }
}

export interface RunOptions extends ModelOptions {
  mixer: string;
  pretrain: Pretrain;
  /** Fine-tuning steps. */
  steps: number;
  /** Self-pretraining steps (pretrain 'causal' or 'masked'). */
  pretrainSteps: number;
  batch: number;
  lr: number;
  /** Validation accuracy checkpoints during fine-tuning (0: none): before the first step and after
   * every steps / curvePoints steps; each costs one forward pass over the validation split. */
  curvePoints?: number;
  /** Called after every optimisation step (phase, step, loss). */
  onStep?: (phase: "pretrain" | "finetune", step: number, loss: number) => void;
  /** Called between pretraining and fine-tuning (the smoke test looks at the weights). */
  onPretrained?: (model: TaskModel) => void;
  /** Called right before fine-tuning starts (after pretraining, when there is one). */
  onFinetuneStart?: (model: TaskModel) => void;
  /** Called with the model before it is disposed. */
  onDone?: (model: TaskModel) => void;
}

export interface RunResult {
  accuracy: number;
  /** Scored test examples (classify) or labelled test positions (sequence). */
  testCount: number;
  valAccuracy: number;
  steps: number;
  pretrainSteps: number;
  /** Mean loss over the first and the last 10% of fine-tuning steps. */
  lossFirst: number;
  lossLast: number;
  pretrainLossFirst?: number;
  pretrainLossLast?: number;
  seconds: number;
  /** Training tokens (pretraining + fine-tuning) per second of training. */
  tokensPerS: number;
  /** Peak live tensor bytes over the run (weights, AdamW state, activations, gradients). */
  peakBytes: number;
  params: number;
  /** Validation accuracy at the checkpoints of `curvePoints` (fine-tuning step, accuracy). */
  curve: { step: number; accuracy: number }[];
}

interface Batch {
  ids: T.Tensor;
  /** classify: [B] int32; sequence: [B, T] int32. */
  targets: T.Tensor;
  /** [B, T, 1] float32: 1 before the padding. */
  mask: T.Tensor;
  /** Scored positions (sequence) or examples (classify). */
  count: number;
}

function makeBatch(task: TaskData, xs: Example[], lmTargets = false): Batch {
  const B = xs.length;
  const L = task.seqLen;
  const ids = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  const seq = task.kind === "sequence" || lmTargets;
  const targets = new Int32Array(seq ? B * L : B);
  let count = 0;
  xs.forEach((x, b) => {
    ids.set(x.ids, b * L);
    mask.fill(1, b * L, b * L + x.length);
    if (lmTargets) {
      // next-token targets are the inputs (lmLoss shifts), padding ignored
      for (let t = 0; t < L; t++) targets[b * L + t] = t < x.length ? x.ids[t] : -100;
    } else if (seq) {
      targets.set(x.labels!, b * L);
      for (const v of x.labels!) if (v !== -100) count++;
    } else {
      targets[b] = x.label!;
      count++;
    }
  });
  return {
    ids: T.tensor(ids, { shape: [B, L], dtype: "int32" }),
    targets: T.tensor(targets, { shape: seq ? [B, L] : [B], dtype: "int32" }),
    mask: T.tensor(mask, { shape: [B, L, 1] }),
    count,
  };
}

/** A BERT-style corrupted batch of the inputs (masked self-pretraining): ids [B, T] and labels [B, T] (-100 where not selected or padding). */
export function maskedBatch(task: TaskData, xs: Example[], maskId: number, seed: number): { inputIds: T.Tensor; labels: T.Tensor } {
  const L = task.seqLen;
  const pad = task.pad ?? 0;
  const ids = xs.map((x) => Array.from({ length: L }, (_, t) => (t < x.length ? x.ids[t] : pad)));
  const attentionMask = xs.map((x) => Array.from({ length: L }, (_, t) => (t < x.length ? 1 : 0)));
  return bertMask(ids, { maskTokenId: maskId, vocabSize: task.vocab, attentionMask, probability: 0.15, seed });
}

function sample(xs: Example[], n: number, rng: () => number): Example[] {
  return Array.from({ length: n }, () => xs[Math.floor(rng() * xs.length)]);
}

/** Accuracy over a split: per example (classify) or per labelled position (sequence). */
export function evaluate(model: TaskModel, task: TaskData, xs: Example[], batch = 100): { accuracy: number; count: number } {
  let right = 0;
  let total = 0;
  for (let i = 0; i < xs.length; i += batch) {
    T.tidy(() => {
      const b = makeBatch(task, xs.slice(i, i + batch));
      if (task.kind === "classify") {
        const pred = T.argmax(model.classify(b.ids, b.mask), -1);
        right += T.sum(T.cast(T.eq(pred, b.targets), "float32")).itemSync();
      } else {
        const pred = T.argmax(model.logits(b.ids), -1);
        right += T.sum(T.cast(T.logicalAnd(T.ne(b.targets, -100), T.eq(pred, b.targets)), "float32")).itemSync();
      }
      total += b.count;
    });
  }
  return { accuracy: right / total, count: total };
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const firstLast = (xs: number[]): [number, number] => {
  const k = Math.max(1, Math.floor(xs.length / 10));
  return [meanOf(xs.slice(0, k)), meanOf(xs.slice(-k))];
};

/** Pretrain (optionally), fine-tune and score one mixer on one task. */
export async function runTask(task: TaskData, o: RunOptions): Promise<RunResult> {
  T.resetPeakMemory();
  const t0 = performance.now();
  const model = new TaskModel(task, o.mixer, { ...o, maskToken: o.pretrain === "masked" });
  model.train();
  const all = model.namedParameters();
  const params = Object.keys(all).reduce((n, k) => n + all[k].size, 0);
  const rng = seededRandom(o.seed + 7);
  let tokens = 0;
  let pre: number[] = [];
  if (o.pretrain !== "none" && o.pretrainSteps > 0) {
    // The LM path only: the classifier head is not used (and not given to the optimiser).
    const lmParams = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith("cls.")));
    let step = 0;
    pre = await trainLoop(
      lmParams,
      () => {
        const xs = sample(task.train, o.batch, rng);
        if (o.pretrain === "masked") {
          const m = maskedBatch(task, xs, model.maskId!, o.seed * 100_003 + step++);
          return mlmLoss(model.logits(m.inputIds), m.labels);
        }
        const b = makeBatch(task, xs, true);
        return lmLoss(model.logits(b.ids), b.targets);
      },
      { steps: o.pretrainSteps, lr: o.lr, onStep: (s, l) => void o.onStep?.("pretrain", s, l) },
    );
    tokens += o.pretrainSteps * o.batch * task.seqLen;
    o.onPretrained?.(model);
  }
  o.onFinetuneStart?.(model);
  // Accuracy vs step: validation accuracy at a few checkpoints; their time is left out of tokens/s.
  const curve: { step: number; accuracy: number }[] = [];
  const points = Math.min(o.curvePoints ?? 0, o.steps);
  const checkpoints = new Set(Array.from({ length: points }, (_, i) => Math.round(((i + 1) * o.steps) / points)));
  let evalMs = 0;
  const checkpoint = (step: number) => {
    const e0 = performance.now();
    model.eval();
    curve.push({ step, accuracy: evaluate(model, task, task.validation).accuracy });
    model.train();
    evalMs += performance.now() - e0;
  };
  if (points > 0) checkpoint(0);
  const fine = await trainLoop(
    all,
    () => {
      const b = makeBatch(task, sample(task.train, o.batch, rng));
      return task.kind === "classify" ? T.crossEntropy(model.classify(b.ids, b.mask), b.targets) : T.crossEntropy(model.logits(b.ids), b.targets, { ignoreIndex: -100 });
    },
    {
      steps: o.steps,
      lr: o.lr,
      onStep: (s, l) => {
        o.onStep?.("finetune", s, l);
        if (checkpoints.has(s)) checkpoint(s);
      },
    },
  );
  tokens += o.steps * o.batch * task.seqLen;
  const trainSeconds = (performance.now() - t0 - evalMs) / 1000;
  model.eval();
  const test = evaluate(model, task, task.test);
  const valAccuracy = evaluate(model, task, task.validation).accuracy;
  const peakBytes = T.memory().peakBytes;
  o.onDone?.(model);
  model.dispose();
  const [lossFirst, lossLast] = firstLast(fine);
  const preFL = pre.length ? firstLast(pre) : null;
  return {
    accuracy: test.accuracy,
    testCount: test.count,
    valAccuracy,
    steps: o.steps,
    pretrainSteps: o.pretrain !== "none" ? o.pretrainSteps : 0,
    lossFirst,
    lossLast,
    ...(preFL ? { pretrainLossFirst: preFL[0], pretrainLossLast: preFL[1] } : {}),
    seconds: (performance.now() - t0) / 1000,
    tokensPerS: tokens / trainSeconds,
    peakBytes,
    params,
    curve,
  };
}

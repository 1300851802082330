/**
 * Selective copying (Gu & Dao 2023, "Mamba", section 4.1.1): a sequence holds `tokens` data
 * tokens at random positions among noise tokens; after it come `tokens` marker tokens, at which
 * the model must output the data tokens in order. Solving it needs content-aware selection (an
 * LTI model such as S4 cannot), which is what the selective scan adds.
 *
 * A 2-layer Mamba (embedding -> [RMSNorm -> MambaMixer -> residual] x 2 -> RMSNorm -> head),
 * trained on the CPU with AdamW; accuracy is per output token on fresh sequences. The curve
 * (step, loss, accuracy, seconds) is printed and written as JSON.
 *
 *   node dist/selective-copying.js [--steps N] [--length L] [--tokens K] [--json FILE]
 */
import { writeFileSync } from "node:fs";
import * as T from "@tessera/tensor";
import { MambaMixer } from "@tessera/ssm";
import { useBackend } from "../backends";
import { selectiveCopyingBatch, type CopyTask } from "../tasks/selective-copying";
import { seededRandom } from "../tasks/random";

export { seededRandom, type CopyTask };

/** A batch: ids [B, length + tokens] (int32) and targets [B, length + tokens] (-100 where no loss); the data from the tasks entry's `selectiveCopyingBatch`. */
export function copyBatch(task: CopyTask, batch: number, rng: () => number): { ids: T.Tensor; targets: T.Tensor } {
  const { ids, targets, shape } = selectiveCopyingBatch(task, batch, rng);
  return { ids: T.tensor(ids, { shape, dtype: "int32" }), targets: T.tensor(targets, { shape, dtype: "int32" }) };
}

/** Embedding, two pre-norm Mamba blocks, final norm and a linear head. */
export class TinyMamba extends T.Module {
  readonly embedding: T.Embedding;
  readonly norms: T.ModuleList<T.RMSNorm>;
  readonly mixers: T.ModuleList<MambaMixer>;
  readonly normF: T.RMSNorm;
  readonly head: T.Linear;
  constructor(vocab: number, dModel: number, layers: number, seed: number) {
    super();
    const gen = new T.Generator(seed);
    this.embedding = this.registerModule("embedding", new T.Embedding(vocab, dModel, { seed: gen }));
    this.norms = this.registerModule("norms", new T.ModuleList(Array.from({ length: layers }, () => new T.RMSNorm(dModel, { eps: 1e-5 }))));
    this.mixers = this.registerModule("mixers", new T.ModuleList(Array.from({ length: layers }, () => new MambaMixer({ dModel, dState: 16, seed: gen }))));
    this.normF = this.registerModule("norm_f", new T.RMSNorm(dModel, { eps: 1e-5 }));
    this.head = this.registerModule("head", new T.Linear(dModel, vocab, { seed: gen }));
  }

  /** ids [B, L] -> logits [B, L, vocab] */
  forward(ids: T.Tensor): T.Tensor {
    let h = this.embedding.forward(ids);
    for (let i = 0; i < this.mixers.length; i++) h = T.add(h, this.mixers.at(i).forward(this.norms.at(i).forward(h)).y);
    return this.head.forward(this.normF.forward(h));
  }
}

export interface CurvePoint {
  step: number;
  loss: number;
  accuracy: number;
  seconds: number;
}

export interface TrainOptions extends CopyTask {
  steps: number;
  batch: number;
  dModel: number;
  lr: number;
  evalEvery: number;
  /** Stop once evaluation accuracy reaches this. */
  target: number;
  seed: number;
  log?: (line: string) => void;
}

/** Accuracy over the output positions of `n` fresh sequences. */
function evaluate(model: TinyMamba, task: CopyTask, n: number, rng: () => number): number {
  return T.tidy(() => {
    const { ids, targets } = copyBatch(task, n, rng);
    const pred = T.argmax(model.forward(ids), -1); // [B, L]
    const scored = T.ne(targets, -100);
    const right = T.logicalAnd(scored, T.eq(pred, targets));
    return T.sum(T.cast(right, "float32")).itemSync() / T.sum(T.cast(scored, "float32")).itemSync();
  });
}

export function trainSelectiveCopying(o: TrainOptions): CurvePoint[] {
  const task: CopyTask = { length: o.length, tokens: o.tokens, vocab: o.vocab };
  const model = new TinyMamba(o.vocab + 2, o.dModel, 2, o.seed);
  const params = model.namedParameters();
  const opt = new T.AdamW(params, { lr: o.lr, weightDecay: 0.01 });
  const rng = seededRandom(o.seed);
  const evalRng = seededRandom(o.seed + 1);
  const curve: CurvePoint[] = [];
  const t0 = performance.now();
  let lossSum = 0;
  let lossN = 0;
  for (let step = 1; step <= o.steps; step++) {
    T.tidy(() => {
      const { ids, targets } = copyBatch(task, o.batch, rng);
      const { value, grads } = T.gradients(() => T.crossEntropy(model.forward(ids), targets), params);
      lossSum += value.itemSync();
      lossN++;
      opt.step(grads);
    });
    if (step % o.evalEvery === 0 || step === o.steps) {
      const point = { step, loss: lossSum / lossN, accuracy: evaluate(model, task, 256, evalRng), seconds: (performance.now() - t0) / 1000 };
      curve.push(point);
      lossSum = lossN = 0;
      o.log?.(`step ${String(step).padStart(5)}  loss ${point.loss.toFixed(4)}  accuracy ${point.accuracy.toFixed(3)}  ${point.seconds.toFixed(1)} s`);
      if (point.accuracy >= o.target) break;
    }
  }
  model.dispose();
  return curve;
}

function parse(argv: string[]): TrainOptions & { json?: string } {
  const o: TrainOptions & { json?: string } = { length: 64, tokens: 8, vocab: 8, steps: 3000, batch: 32, dModel: 64, lr: 3e-3, evalEvery: 50, target: 0.95, seed: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === "--json") o.json = v;
    else if (k === "--steps") o.steps = Number(v);
    else if (k === "--length") o.length = Number(v);
    else if (k === "--tokens") o.tokens = Number(v);
    else if (k === "--lr") o.lr = Number(v);
    else if (k === "--batch") o.batch = Number(v);
    else throw new Error(`unknown option ${k} (--steps, --length, --tokens, --lr, --batch, --json)`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  await useBackend("cpu");
  console.log(`selective copying: ${o.tokens} tokens (vocab ${o.vocab}) among ${o.length} positions; 2-layer Mamba d=${o.dModel}, batch ${o.batch}, AdamW lr ${o.lr}`);
  const curve = trainSelectiveCopying({ ...o, log: (l) => console.log(l) });
  const last = curve[curve.length - 1];
  console.log(`final accuracy ${last.accuracy.toFixed(3)} after ${last.step} steps, ${last.seconds.toFixed(1)} s`);
  if (o.json)
    writeFileSync(o.json, JSON.stringify({ task: { length: o.length, tokens: o.tokens, vocab: o.vocab }, model: { layers: 2, dModel: o.dModel, dState: 16 }, curve }, null, 2));
}

if (process.argv[1] && /selective-copying\.(js|ts)$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/**
 * Experiment B: ELECTRA's replaced-token detection vs masked language modelling at equal compute
 * (Clark et al. 2020, "ELECTRA": the discriminator learns from every token, not only the 15%
 * masked, so it should learn faster per FLOP). Same data, encoder size, seed, optimiser and probe
 * as experiment A (mlm-masking):
 *   MLM      the small BERT trained with token masking + mlmLoss for N steps;
 *   ELECTRA  a generator (a BERT half as wide: ELECTRA §3.2 finds 1/4-1/2 of the discriminator
 *            best) and a discriminator (the same small BERT encoder + ELECTRA's head dense-GELU-
 *            dense -> one logit per token), trained jointly with @tessera/masked replacedTokenLoss
 *            (generator MLM loss + 50 x replaced-token BCE over non-padding tokens; samples drawn
 *            from the generator's softmax, no gradient through them) for as many steps as the same
 *            training FLOPs allow.
 * Equal compute = equal training FLOPs (matmul FLOPs of forward + backward = 3 x forward, counted
 * from the shapes by forwardFlopsPerToken), not wall-clock, which the shared machine makes noisy
 * (wall time is reported too). The discriminator's encoder is probed (spam vs ham, frozen, linear)
 * at 1/4, 1/2 and all of the budget; so is the MLM encoder.
 * The pair here is two separate @tessera/models BertForMaskedLM (the generator's MLM head tied
 * to its own embedding; no embedding sharing between generator and discriminator).
 */
import * as T from "@tessera/tensor";
import { activate, type BertForMaskedLM } from "@tessera/models";
import { bertMask, mlmLoss, replacedTokenLoss } from "@tessera/masked";
import { cpuThreads } from "../../backends";
import { seededRandom } from "../../tasks/random";
import { CLS_ID, MASK_ID, PAD_ID, SEP_ID } from "../../tasks/spam-assassin";
import { spamAssassin } from "../../tasks/node";
import { encoderStates, forwardFlopsPerToken, smallBert, textBatch, type TextEncoderSize } from "../text-encoder";
import { maskBatch, prepareText, probeSpam, sampleBatch, trainLoop, type TextData } from "../text-pretrain";
import { pct, stdError, type AccuracyExperiment, type ExperimentRow } from "./experiment";
import { TEXT_CONFIGS } from "./mask-strategies";

/** ELECTRA's discriminator head (ElectraDiscriminatorPredictions): dense -> GELU -> dense to one logit per token. */
class DetectionHead extends T.Module {
  readonly dense: T.Linear;
  readonly out: T.Linear;
  constructor(d: number, seed: T.Generator) {
    super();
    this.dense = this.registerModule("dense", new T.Linear(d, d, { seed }));
    this.out = this.registerModule("out", new T.Linear(d, 1, { seed }));
  }
  /** [B, T, D] -> [B, T] */
  forward(h: T.Tensor): T.Tensor {
    return T.squeeze(this.out.forward(activate(this.dense.forward(h), "gelu")), -1);
  }
}

/** The pair: a generator BERT and a discriminator (BERT encoder + detection head). */
export class BertElectraPair extends T.Module {
  readonly generator: BertForMaskedLM;
  readonly discriminator: BertForMaskedLM;
  readonly head: DetectionHead;
  constructor(
    readonly discSize: TextEncoderSize,
    readonly genSize: TextEncoderSize,
    seed: number,
  ) {
    super();
    // The discriminator gets the same initial weights as experiment A's / the MLM arm's encoder (seed), the rest their own stream.
    this.discriminator = this.registerModule("discriminator", smallBert(discSize, seed));
    const gen = new T.Generator(seed + 1);
    this.generator = this.registerModule("generator", smallBert(genSize, gen));
    this.head = this.registerModule("head", new DetectionHead(discSize.dModel, gen));
  }

  /** Trained parameters: everything but the discriminator's unused MLM head. */
  trainable(): Record<string, T.Tensor> {
    return Object.fromEntries(Object.entries(this.namedParameters()).filter(([k]) => !/^discriminator\.head/.test(k)));
  }
}

/** The generator's size: half the discriminator's width, heads and MLP, same depth. */
export function generatorSize(s: TextEncoderSize): TextEncoderSize {
  return { ...s, dModel: Math.max(8, s.dModel / 2), heads: Math.max(1, s.heads / 2), inner: Math.max(8, s.inner / 2) };
}

/** Training FLOPs per step (3 x forward) for batch x seqLen tokens. */
export function stepFlops(kind: "mlm" | "electra", s: TextEncoderSize, batch: number): number {
  const perToken = kind === "mlm" ? forwardFlopsPerToken(s, "mlm") : forwardFlopsPerToken(generatorSize(s), "mlm") + forwardFlopsPerToken(s, "detect");
  return 3 * perToken * batch * s.seqLen;
}

function electraLoss(pair: BertElectraPair, data: TextData, xs: Parameters<typeof textBatch>[0], seed: number): T.Tensor {
  const b = textBatch(xs);
  const m = bertMask(b.ids, { maskTokenId: MASK_ID, vocabSize: data.size.vocab, specialTokenIds: [PAD_ID, CLS_ID, SEP_ID], attentionMask: b.attentionMask, seed });
  const r = replacedTokenLoss({
    generatorLogits: pair.generator.forward(m.inputIds, { attentionMask: b.attentionMask }).logits,
    labels: m.labels,
    inputIds: m.inputIds,
    discriminator: (ids) => pair.head.forward(encoderStates(pair.discriminator, ids, b.attentionMask)),
    attentionMask: b.attentionMask,
    lambda: 50,
    seed: seed + 1,
  });
  return r.loss;
}

const gflop = (f: number) => (f / 1e9).toPrecision(3);

interface Checkpoint {
  fraction: number;
  step: number;
  accuracy: number;
  trainAccuracy: number;
  testCount: number;
  seconds: number;
}

/** Trains for `steps`, probing `probe()` after the steps at the given budget fractions. */
async function trainWithProbes(
  params: Record<string, T.Tensor>,
  steps: number,
  lr: number,
  lossOf: (step: number) => T.Tensor,
  probe: () => { testAccuracy: number; trainAccuracy: number; testCount: number },
  log: (s: string) => void,
): Promise<{ checkpoints: Checkpoint[]; losses: number[] }> {
  const fractions = [0.25, 0.5, 1];
  const at = new Map(fractions.map((f) => [Math.max(1, Math.round(f * steps)), f]));
  const checkpoints: Checkpoint[] = [];
  let seconds = 0;
  let t = performance.now();
  const losses = await trainLoop(params, lossOf, {
    steps,
    lr,
    onStep: (step, loss) => {
      const f = at.get(step);
      if (f === undefined) return;
      seconds += (performance.now() - t) / 1000;
      const p = probe();
      checkpoints.push({ fraction: f, step, accuracy: p.testAccuracy, trainAccuracy: p.trainAccuracy, testCount: p.testCount, seconds });
      log(`    step ${step}/${steps} (${f * 100}% of the budget, ${seconds.toFixed(0)} s training): loss ${loss.toFixed(3)}, probe ${pct(p.testAccuracy)}%`);
      t = performance.now();
    },
  });
  return { checkpoints, losses };
}

export const electraExperiment: AccuracyExperiment = {
  name: "electra-vs-mlm",
  description: "ELECTRA (replaced-token detection, replacedTokenLoss) vs MLM at equal training FLOPs on SpamAssassin: spam-vs-ham linear-probe accuracy over the budget",
  async run(ctx) {
    const c = TEXT_CONFIGS[ctx.quick ? "quick" : "default"];
    const data = prepareText({ pretrain: spamAssassin({ split: "pretrain" }), train: spamAssassin({ split: "train" }), test: spamAssassin({ split: "test" }) }, c);
    const s = data.size;
    const g = generatorSize(s);
    const mlmFlops = stepFlops("mlm", s, c.batch);
    const electraFlops = stepFlops("electra", s, c.batch);
    const electraSteps = Math.max(1, Math.round((c.steps * mlmFlops) / electraFlops));
    const budget = c.steps * mlmFlops;
    const setup = `discriminator / MLM encoder: BERT d=${s.dModel} L=${s.layers} heads=${s.heads} mlp=${s.inner}; generator d=${g.dModel} heads=${g.heads} mlp=${g.inner}; vocab ${s.vocab}, T=${s.seqLen}, batch ${c.batch}, AdamW lr ${c.lr}, seed ${c.seed}; budget ${gflop(budget)} GFLOP = MLM ${c.steps} steps x ${gflop(mlmFlops)} = ELECTRA ${electraSteps} steps x ${gflop(electraFlops)}; cpu ${cpuThreads} thread(s)`;
    ctx.log(`electra-vs-mlm: ${setup}`);
    const rows: ExperimentRow[] = [];
    const push = (condition: string, cps: Checkpoint[], steps: number, losses: number[]) => {
      for (const cp of cps)
        rows.push({
          experiment: "electra-vs-mlm",
          condition,
          budgetFraction: cp.fraction,
          step: cp.step,
          steps,
          accuracy: cp.accuracy,
          trainAccuracy: cp.trainAccuracy,
          testCount: cp.testCount,
          trainSeconds: cp.seconds,
          lossLast: losses[cp.step - 1],
        });
    };
    {
      ctx.log("  MLM (token masking)");
      const model = smallBert(s, c.seed);
      model.train();
      const rng = seededRandom(c.seed + 11);
      const r = await trainWithProbes(
        model.namedParameters(),
        c.steps,
        c.lr,
        (step) => {
          const m = maskBatch("token", sampleBatch(data.pretrain, c.batch, rng), s.vocab, c.seed * 100_003 + step);
          return mlmLoss(model.forward(m.inputIds, { attentionMask: m.attentionMask }).logits, m.labels);
        },
        () => {
          const p = probeSpam(model, data, c.probeSteps);
          model.train();
          return p;
        },
        ctx.log,
      );
      push("MLM", r.checkpoints, c.steps, r.losses);
      model.dispose();
    }
    {
      ctx.log("  ELECTRA (generator + discriminator)");
      const pair = new BertElectraPair(s, g, c.seed);
      pair.train();
      const rng = seededRandom(c.seed + 11);
      const r = await trainWithProbes(
        pair.trainable(),
        electraSteps,
        c.lr,
        (step) => electraLoss(pair, data, sampleBatch(data.pretrain, c.batch, rng), c.seed * 100_003 + step),
        () => {
          const p = probeSpam(pair.discriminator, data, c.probeSteps);
          pair.train();
          return p;
        },
        ctx.log,
      );
      push("ELECTRA", r.checkpoints, electraSteps, r.losses);
      pair.dispose();
    }
    const se = stdError(0.9, rows[0].testCount);
    const cell = (cond: string, f: number) => {
      const r = rows.find((x) => x.condition === cond && x.budgetFraction === f);
      return r ? `${pct(r.accuracy)} (step ${r.step}, ${(r.trainSeconds as number).toFixed(0)} s)` : "-";
    };
    const lines = [
      `electra-vs-mlm: spam-vs-ham linear probe on the frozen encoder at equal training FLOPs (${setup})`,
      "| objective | probe test acc. % at 1/4 of the budget | at 1/2 | at the full budget |",
      "| --- | --- | --- | --- |",
      ...["MLM", "ELECTRA"].map((cond) => `| ${cond} | ${cell(cond, 0.25)} | ${cell(cond, 0.5)} | ${cell(cond, 1)} |`),
      `(s = training wall time so far, probes excluded; binomial standard error at 90% over ${rows[0].testCount} test messages: ${pct(se)} points)`,
    ];
    return { rows, table: lines.join("\n") };
  },
};

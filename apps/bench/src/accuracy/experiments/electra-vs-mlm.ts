/**
 * Experiment B: ELECTRA's replaced-token detection vs masked language modelling at equal compute
 * (Clark et al. 2020, "ELECTRA": the discriminator learns from every token, not only the 15%
 * masked, so it should learn faster per FLOP). Same data, encoder size, seed, optimiser and probe
 * as experiment A (mlm-masking):
 *   MLM      the small BERT trained with token masking + mlmLoss for N steps;
 *   ELECTRA  @tessera/models' Electra: a generator half as wide (ELECTRA §3.2 finds 1/4-1/2 of
 *            the discriminator best) and a discriminator (BERT blocks of the MLM encoder's size +
 *            the dense-GELU-dense head, one logit per token) on one shared ElectraEmbeddings,
 *            trained jointly with @tessera/masked electraCorrupt +
 *            replacedTokenLoss (generator MLM loss + 50 x replaced-token BCE over non-padding
 *            tokens; samples drawn from the generator's softmax, no gradient through them) for as
 *            many steps as the same training FLOPs allow.
 * Both MLM heads (the MLM arm's, the generator's) run on the 15% selected positions only, as in
 * BERT's and ELECTRA's own pre-training code.
 * Equal compute = equal training FLOPs (matmul FLOPs of forward + backward = 3 x forward, counted
 * from the shapes by stepFlops), not wall-clock, which the shared machine makes noisy (wall time
 * is reported too). The discriminator's encoder is probed (spam vs ham, frozen, linear) at 1/4,
 * 1/2 and all of the budget; so is the MLM encoder.
 */
import * as T from "@tessera/tensor";
import { Electra, ElectraDiscriminator, ElectraEmbeddings, ElectraGenerator } from "@tessera/models";
import { bertMask, electraCorrupt, replacedTokenLoss } from "@tessera/masked";
import { cpuThreads } from "../../backends";
import { seededRandom } from "../../tasks/random";
import { CLS_ID, MASK_ID, PAD_ID, SEP_ID } from "../../tasks/spam-assassin";
import { spamAssassin } from "../../tasks/node";
import { bertBlocks, forwardFlopsPerToken, selectedPositions, smallBert, textBatch, type TextEncoder, type TextEncoderSize } from "../text-encoder";
import { maskBatch, mlmBatchLoss, prepareText, probeSpam, sampleBatch, trainLoop, type TextData } from "../text-pretrain";
import { pct, stdError, type AccuracyExperiment, type ExperimentRow } from "./experiment";
import { TEXT_CONFIGS } from "./mask-strategies";

/**
 * The pair from @tessera/models: one ElectraEmbeddings (width E = the discriminator's width)
 * shared by an ElectraGenerator (half the width; the E -> d/2 projection and an MLM head tied to
 * the shared word embedding) and an ElectraDiscriminator (BERT blocks at full width and the
 * dense-GELU-dense head, one logit per token), as ELECTRA §3.2 "Weight Sharing".
 */
export function electraPair(s: TextEncoderSize, seed: number): Electra {
  const gen = new T.Generator(seed);
  const g = generatorSize(s);
  const embeddings = new ElectraEmbeddings({ vocabSize: s.vocab, embeddingSize: s.dModel, maxPositions: s.seqLen, typeVocabSize: 1, eps: 1e-12, seed: gen });
  const discriminator = new ElectraDiscriminator({ embeddings, dModel: s.dModel, blocks: bertBlocks(s, gen), headActivation: "gelu", seed: gen });
  const generator = new ElectraGenerator({ embeddings, dModel: g.dModel, blocks: bertBlocks(g, gen), eps: 1e-12, seed: gen });
  return new Electra({ generator, discriminator });
}

/** The generator's size: half the discriminator's width, heads and MLP, same depth. */
export function generatorSize(s: TextEncoderSize): TextEncoderSize {
  return { ...s, dModel: Math.max(8, s.dModel / 2), heads: Math.max(1, s.heads / 2), inner: Math.max(8, s.inner / 2) };
}

/** The share of tokens the MLM heads run on (the 15% selected: the gathered heads). */
export const MLM_SHARE = 0.15;

/**
 * Training FLOPs per step (3 x forward) for batch x seqLen tokens. MLM: forwardFlopsPerToken with
 * the head on the selected 15%. ELECTRA: the generator's blocks at d/2 plus its E -> d/2
 * projection and its head (dense d/2 -> E, tied decoder E V) on the selected 15%, plus the
 * discriminator's blocks and detection head on every token (E = d: no projection).
 */
export function stepFlops(kind: "mlm" | "electra", s: TextEncoderSize, batch: number): number {
  const g = generatorSize(s);
  const E = s.dModel;
  const generator = 2 * (g.layers * (4 * g.dModel ** 2 + 2 * g.dModel * g.inner + 2 * g.seqLen * g.dModel) + E * g.dModel + MLM_SHARE * (g.dModel * E + E * s.vocab));
  const perToken = kind === "mlm" ? forwardFlopsPerToken(s, "mlm", MLM_SHARE) : generator + forwardFlopsPerToken(s, "detect");
  return 3 * perToken * batch * s.seqLen;
}

/** The generator's MLM logits at the flat positions only ([K, V]), as ElectraGenerator.forward computes them everywhere. */
function generatorLogitsAt(g: ElectraGenerator, ids: T.Tensor, attentionMask: T.Tensor, positions: Int32Array): T.Tensor {
  const h = g.encoder.forward(ids, { attentionMask }).hidden; // [B, T, Dg]
  const [B, L, D] = h.shape;
  const rows = T.indexSelect(T.reshape(h, [B * L, D]), 0, T.tensor(positions, { shape: [positions.length], dtype: "int32" })); // [K, Dg]
  const t = g.headNorm.forward(T.gelu(g.headDense.forward(rows))); // [K, E]
  return T.add(T.linear(t, g.encoder.embeddings.word.weight), g.headBias); // [K, V]
}

/**
 * One ELECTRA step's loss: bertMask selects 15% of the tokens; the generator's MLM head runs on
 * those positions only ([K, V]); electraCorrupt samples a replacement at each from the generator's
 * softmax (no gradient through it); the samples go back in place of the originals ([B, T]) and
 * replacedTokenLoss adds the generator's MLM loss and 50 x the discriminator's BCE over the
 * non-padding tokens.
 */
function electraLoss(pair: Electra, data: TextData, xs: Parameters<typeof textBatch>[0], seed: number): T.Tensor {
  const b = textBatch(xs);
  const [B, L] = b.ids.shape;
  const m = bertMask(b.ids, { maskTokenId: MASK_ID, vocabSize: data.size.vocab, specialTokenIds: [PAD_ID, CLS_ID, SEP_ID], attentionMask: b.attentionMask, seed });
  const sel = selectedPositions(m.labels);
  const K = sel.positions.length;
  const genLogits = generatorLogitsAt(pair.generator, m.inputIds, b.attentionMask, sel.positions); // [K, V]
  const labels = T.tensor(sel.labels, { shape: [1, K], dtype: "int32" });
  const fake = electraCorrupt(T.reshape(genLogits, [1, K, data.size.vocab]), labels, labels, { seed: seed + 1 }); // [1, K]
  const ids = Int32Array.from(b.ids.dataSync() as Int32Array);
  const replaced = new Float32Array(B * L);
  const fakeIds = fake.corruptedIds.dataSync() as Int32Array;
  const fakeReplaced = fake.isReplaced.dataSync() as Float32Array;
  sel.positions.forEach((p, k) => {
    ids[p] = fakeIds[k];
    replaced[p] = fakeReplaced[k];
  });
  const corrupted = { corruptedIds: T.tensor(ids, { shape: [B, L], dtype: "int32" }), isReplaced: T.tensor(replaced, { shape: [B, L] }) };
  const r = replacedTokenLoss({
    generatorLogits: genLogits,
    labels: T.reshape(labels, [K]),
    inputIds: m.inputIds,
    discriminator: pair.discriminator.forward(corrupted.corruptedIds, { attentionMask: b.attentionMask }).logits, // [B, T]
    corrupted,
    attentionMask: b.attentionMask,
    lambda: 50,
  });
  return r.loss;
}

/** The discriminator's encoder (its head left out) as the probe's frozen encoder. */
const discriminatorEncoder = (pair: Electra): TextEncoder => ({
  dModel: pair.discriminator.opts.dModel,
  states: (ids, attentionMask) => pair.discriminator.encoder.forward(ids, { attentionMask }).hidden,
});

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
  // step -> the budget fractions that end there (on a tiny budget several can share a step)
  const at = new Map<number, number[]>();
  for (const f of fractions) {
    const step = Math.max(1, Math.round(f * steps));
    at.set(step, [...(at.get(step) ?? []), f]);
  }
  const checkpoints: Checkpoint[] = [];
  let seconds = 0;
  let t = performance.now();
  const losses = await trainLoop(params, lossOf, {
    steps,
    lr,
    onStep: (step, loss) => {
      const fs = at.get(step);
      if (fs === undefined) return;
      seconds += (performance.now() - t) / 1000;
      const p = probe();
      for (const f of fs) checkpoints.push({ fraction: f, step, accuracy: p.testAccuracy, trainAccuracy: p.trainAccuracy, testCount: p.testCount, seconds });
      log(
        `    step ${step}/${steps} (${fs.map((f) => `${f * 100}%`).join(", ")} of the budget, ${seconds.toFixed(0)} s training): loss ${loss.toFixed(3)}, probe ${pct(p.testAccuracy)}%`,
      );
      t = performance.now();
    },
  });
  return { checkpoints, losses };
}

export const electraExperiment: AccuracyExperiment = {
  name: "electra-vs-mlm",
  description: "ELECTRA (replaced-token detection, replacedTokenLoss) vs MLM at equal training FLOPs on SpamAssassin: spam-vs-ham linear-probe accuracy over the budget",
  async run(ctx) {
    const c = { ...TEXT_CONFIGS[ctx.quick ? "quick" : "default"], ...(ctx.seed === undefined ? {} : { seed: ctx.seed }) };
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
          return mlmBatchLoss(model, m);
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
      const pair = electraPair(s, c.seed);
      pair.train();
      const rng = seededRandom(c.seed + 11);
      const r = await trainWithProbes(
        pair.namedParameters(),
        electraSteps,
        c.lr,
        (step) => electraLoss(pair, data, sampleBatch(data.pretrain, c.batch, rng), c.seed * 100_003 + step),
        () => {
          pair.eval();
          const p = probeSpam(discriminatorEncoder(pair), data, c.probeSteps);
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

/**
 * Experiment A: masking strategies for masked-language-model pre-training, compared by what the
 * encoder learns. One small BERT (same initial weights for every condition) is pre-trained on the
 * SpamAssassin pretrain split (1600 messages, labels unused) with mlmLoss under each of
 *   token       bertMask (Devlin et al. 2019),
 *   whole-word  bertMask with wordIds (BERT's whole-word masking),
 *   span        spanMask with wordIds (SpanBERT, Joshi et al. 2020),
 * for the same number of steps, then frozen; a linear probe (MAE protocol: standardised features,
 * softmax regression) on the mean-pooled final hidden states is trained on the train split (600)
 * and scored on spam vs ham on the test split (400). "none" probes the untrained encoder.
 * T5 span corruption is left out: it trains an encoder-decoder (targets are sentinel-delimited
 * spans), and Tessera has no encoder-decoder model to train it with.
 */
import { cpuThreads } from "../../backends";
import { spamAssassin } from "../../tasks/node";
import { smallBert } from "../text-encoder";
import { firstLast, MASK_STRATEGIES, prepareText, pretrainMlm, probeSpam, STRATEGY_NOTES, unigramEntropy, type MaskStrategy, type TextConfig } from "../text-pretrain";
import { pct, stdError, type AccuracyExperiment, type ExperimentRow } from "./experiment";

export const TEXT_CONFIGS: Record<"default" | "quick", TextConfig> = {
  default: {
    words: 1500,
    pieces: 500,
    size: { seqLen: 64, dModel: 64, layers: 2, heads: 4, inner: 128 },
    steps: 500,
    batch: 16,
    lr: 3e-3,
    probeSteps: 300,
    seed: 0,
  },
  quick: {
    words: 200,
    pieces: 50,
    size: { seqLen: 32, dModel: 16, layers: 1, heads: 2, inner: 32 },
    steps: 3,
    batch: 4,
    lr: 2e-3,
    probeSteps: 20,
    seed: 0,
    limit: 40,
  },
};

export const maskStrategiesExperiment: AccuracyExperiment = {
  name: "mlm-masking",
  description: "MLM masking strategies (token vs whole-word vs span) on SpamAssassin: spam-vs-ham linear-probe accuracy of the pre-trained small BERT",
  async run(ctx) {
    const c = { ...TEXT_CONFIGS[ctx.quick ? "quick" : "default"], ...(ctx.seed === undefined ? {} : { seed: ctx.seed }) };
    const data = prepareText({ pretrain: spamAssassin({ split: "pretrain" }), train: spamAssassin({ split: "train" }), test: spamAssassin({ split: "test" }) }, c);
    const s = data.size;
    const setup = `BERT d=${s.dModel} L=${s.layers} heads=${s.heads} mlp=${s.inner}, vocab ${s.vocab} (${data.vocab.words} words + ${data.vocab.pieces} pieces + 5 special), T=${s.seqLen}; ${c.steps} steps x batch ${c.batch}, AdamW lr ${c.lr}, seed ${c.seed}; probe ${c.probeSteps} full-batch steps on ${data.train.length} -> test ${data.test.length}; cpu ${cpuThreads} thread(s)`;
    ctx.log(`mlm-masking: ${setup}`);
    const rows: ExperimentRow[] = [];
    for (const condition of ["none", ...MASK_STRATEGIES] as const) {
      const t0 = performance.now();
      const model = smallBert(s, c.seed);
      let losses: number[] = [];
      if (condition !== "none")
        losses = await pretrainMlm(model, data, condition as MaskStrategy, c, (step, loss) => {
          if (step % 50 === 0) ctx.log(`  ${condition} step ${step}/${c.steps}: loss ${loss.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
        });
      const trainSeconds = (performance.now() - t0) / 1000;
      const probe = probeSpam(model, data, c.probeSteps);
      model.dispose();
      const [first, last] = losses.length ? firstLast(losses) : [NaN, NaN];
      const row: ExperimentRow = {
        experiment: "mlm-masking",
        condition,
        accuracy: probe.testAccuracy,
        testCount: probe.testCount,
        trainAccuracy: probe.trainAccuracy,
        steps: losses.length,
        lossFirst: first,
        lossLast: last,
        pretrainSeconds: trainSeconds,
      };
      ctx.log(`  ${condition}: probe test accuracy ${pct(row.accuracy)}% (train ${pct(probe.trainAccuracy)}%), ${losses.length} steps in ${trainSeconds.toFixed(0)} s`);
      rows.push(row);
    }
    const se = stdError(0.9, rows[0].testCount);
    const lines = [
      `mlm-masking: spam-vs-ham linear probe on the frozen encoder (${setup})`,
      "| masking | probe test acc. % | probe train acc. % | MLM loss first -> last 10% of steps | pre-training s |",
      "| --- | ---: | ---: | --- | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.condition === "none" ? "none (random init)" : r.condition} | ${pct(r.accuracy)} | ${pct(r.trainAccuracy as number)} | ${r.condition === "none" ? "-" : `${(r.lossFirst as number).toFixed(2)} -> ${(r.lossLast as number).toFixed(2)}`} | ${(r.pretrainSeconds as number).toFixed(0)} |`,
      ),
      `binomial standard error at 90% over ${rows[0].testCount} test messages: ${pct(se)} points. MLM losses are not comparable across strategies (each predicts its own masked positions); a context-blind model that predicts unigram frequencies scores ${unigramEntropy(data).toFixed(2)} nats (the tokens' entropy).`,
      ...MASK_STRATEGIES.map((m) => `  ${m}: ${STRATEGY_NOTES[m]}`),
    ];
    return { rows, table: lines.join("\n") };
  },
};

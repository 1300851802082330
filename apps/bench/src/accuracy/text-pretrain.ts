/**
 * Shared machinery of the text pre-training experiments: the SpamAssassin data as token sequences
 * (vocabulary from the pretrain split), the masking strategies of @tessera/masked, the training
 * loop (AdamW, linear warmup + cosine decay, gradient-norm clipping at 1) and the linear probe on
 * spam vs ham. Everything is seeded: weights, batch order, masks, and the fixed splits.
 */
import * as T from "@tessera/tensor";
import type { BertForMaskedLM } from "@tessera/models";
import { bertMask, mlmLoss, spanMask, type MaskedTokens } from "@tessera/masked";
import { seededRandom } from "../tasks/random";
import { buildVocabulary, CLS_ID, encodeText, MASK_ID, PAD_ID, SEP_ID, type EncodedText, type TextExample, type Vocabulary } from "../tasks/spam-assassin";
import { linearProbe, type ProbeResult } from "./probe";
import { trainLoop, type TrainOptions } from "./train-loop";
import { bertEncoder, encoderStates, mlmLogitsAt, pooledFeatures, selectedPositions, textBatch, type TextEncoder, type TextEncoderSize } from "./text-encoder";

export interface TextSplits {
  pretrain: TextExample[];
  train: TextExample[];
  test: TextExample[];
}

export interface TextConfig {
  /** Vocabulary: most frequent words, then pieces of the other words (from the pretrain split). */
  words: number;
  pieces: number;
  size: Omit<TextEncoderSize, "vocab">;
  /** Pre-training steps and batch. */
  steps: number;
  batch: number;
  lr: number;
  /** Probe: full-batch steps. */
  probeSteps: number;
  seed: number;
  /** Use only the first n / 2 ham and n / 2 spam messages of each split (the smoke test); all when absent. */
  limit?: number;
}

export interface TextData {
  vocab: Vocabulary;
  pretrain: EncodedText[];
  train: EncodedText[];
  test: EncodedText[];
  size: TextEncoderSize;
}

/** Builds the vocabulary on the pretrain split's texts and encodes every split to `seqLen` tokens. */
export function prepareText(splits: TextSplits, c: TextConfig): TextData {
  const cut = (xs: TextExample[]) => (c.limit ? [0, 1].flatMap((label) => xs.filter((e) => e.label === label).slice(0, c.limit! / 2)) : xs);
  const vocab = buildVocabulary(
    cut(splits.pretrain).map((e) => e.text),
    { words: c.words, pieces: c.pieces },
  );
  const enc = (xs: TextExample[]) => cut(xs).map((e) => encodeText(vocab, e.text, c.size.seqLen, e.label));
  return { vocab, pretrain: enc(splits.pretrain), train: enc(splits.train), test: enc(splits.test), size: { ...c.size, vocab: vocab.tokens.length } };
}

export type MaskStrategy = "token" | "whole-word" | "span";
export const MASK_STRATEGIES: readonly MaskStrategy[] = ["token", "whole-word", "span"];

export const STRATEGY_NOTES: Record<MaskStrategy, string> = {
  token: "bertMask: each token selected with p = 0.15, 80% [MASK] / 10% random / 10% unchanged (BERT)",
  "whole-word": "bertMask with wordIds: each word selected with p = 0.15, all its pieces with it (BERT's whole-word masking)",
  span: "spanMask with wordIds: spans of geometric(0.2) words clipped to [1, 10], 15% of the tokens, one 80/10/10 draw per span (SpanBERT)",
};

/** A masked batch: ids and labels [B, T] (-100 where not selected); [CLS], [SEP] and padding are never selected. */
export function maskBatch(strategy: MaskStrategy, xs: readonly EncodedText[], vocabSize: number, seed: number): MaskedTokens & { attentionMask: T.Tensor } {
  const b = textBatch(xs);
  const base = { maskTokenId: MASK_ID, vocabSize, specialTokenIds: [PAD_ID, CLS_ID, SEP_ID], attentionMask: b.attentionMask, seed };
  const m =
    strategy === "token" ? bertMask(b.ids, base) : strategy === "whole-word" ? bertMask(b.ids, { ...base, wordIds: b.wordIds }) : spanMask(b.ids, { ...base, wordIds: b.wordIds });
  b.ids.dispose();
  return { inputIds: m.inputIds, labels: m.labels, attentionMask: b.attentionMask };
}

/** `n` examples drawn with replacement by `rng`. */
export function sampleBatch<X>(xs: readonly X[], n: number, rng: () => number): X[] {
  return Array.from({ length: n }, () => xs[Math.floor(rng() * xs.length)]);
}

export { trainLoop, type TrainOptions };

/** The MLM loss of one masked batch, the head run on the selected positions only (mlmLogitsAt). */
export function mlmBatchLoss(model: BertForMaskedLM, m: MaskedTokens & { attentionMask: T.Tensor }): T.Tensor {
  const sel = selectedPositions(m.labels);
  const logits = mlmLogitsAt(model, encoderStates(model, m.inputIds, m.attentionMask), sel.positions); // [K, V]
  return mlmLoss(logits, T.tensor(sel.labels, { shape: [sel.labels.length], dtype: "int32" }));
}

/** MLM pre-training of a BertForMaskedLM with one masking strategy; returns the per-step losses. */
export function pretrainMlm(
  model: BertForMaskedLM,
  data: TextData,
  strategy: MaskStrategy,
  c: Pick<TextConfig, "steps" | "batch" | "lr" | "seed">,
  onStep?: TrainOptions["onStep"],
): Promise<number[]> {
  const rng = seededRandom(c.seed + 11);
  model.train();
  return trainLoop(
    model.namedParameters(),
    (step) => {
      const m = maskBatch(strategy, sampleBatch(data.pretrain, c.batch, rng), data.size.vocab, c.seed * 100_003 + step);
      return mlmBatchLoss(model, m);
    },
    { steps: c.steps, lr: c.lr, onStep },
  );
}

/** The spam-vs-ham linear probe on the frozen encoder (train split -> test split); call with the model in eval mode. */
export function probeSpam(model: BertForMaskedLM | TextEncoder, data: TextData, probeSteps: number): ProbeResult {
  const encoder = "states" in model ? model : bertEncoder(model);
  if (!("states" in model)) model.eval();
  return linearProbe(pooledFeatures(encoder, data.train), pooledFeatures(encoder, data.test), { classes: 2, steps: probeSteps });
}

/**
 * The entropy (nats) of the token distribution of the pretrain split's texts ([CLS], [SEP] and
 * padding left out): the MLM loss of a model that predicts unigram frequencies and ignores the
 * context, the plateau a small BERT sits on before it learns to use the context.
 */
export function unigramEntropy(data: TextData): number {
  const counts = new Map<number, number>();
  let n = 0;
  for (const x of data.pretrain)
    for (let t = 1; t < x.length - 1; t++) {
      counts.set(x.ids[t], (counts.get(x.ids[t]) ?? 0) + 1);
      n++;
    }
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log(c / n);
  return h;
}

/** Mean of the first and of the last 10% of a loss curve. */
export function firstLast(xs: readonly number[]): [number, number] {
  const k = Math.max(1, Math.floor(xs.length / 10));
  const mean = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
  return [mean(xs.slice(0, k)), mean(xs.slice(-k))];
}

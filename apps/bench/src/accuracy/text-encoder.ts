/**
 * The small BERT encoder of the text experiments (masking strategies, ELECTRA vs MLM): a
 * @tessera/models `BertForMaskedLM` (post-norm blocks, bidirectional attention, the MLM head tied
 * to the word embedding) at a size that trains on 2 cores in minutes, plus the frozen features
 * of the linear probe: the final hidden states mean-pooled over the non-padding positions.
 */
import * as T from "@tessera/tensor";
import { activate, Block, BertForMaskedLM, MLP, SelfAttention } from "@tessera/models";
import type { EncodedText } from "../tasks/spam-assassin";
import type { Features } from "./probe";

export interface TextEncoderSize {
  vocab: number;
  seqLen: number;
  dModel: number;
  layers: number;
  heads: number;
  /** MLP width. */
  inner: number;
}

/** BERT's post-norm blocks (bidirectional attention, GELU MLP, LayerNorm eps 1e-12, init std 0.02) at the size's width. */
export function bertBlocks(s: Pick<TextEncoderSize, "dModel" | "heads" | "inner" | "layers">, gen: T.Generator): Block[] {
  const d = s.dModel;
  return Array.from(
    { length: s.layers },
    () =>
      new Block({
        placement: "post",
        mixer: new SelfAttention({ dModel: d, nHeads: s.heads, causal: false, qkvBias: true, outBias: true, initStd: 0.02, seed: gen }),
        norm1: new T.LayerNorm(d, { eps: 1e-12 }),
        mlp: new MLP({ dModel: d, hidden: s.inner, activation: "gelu", initStd: 0.02, seed: gen }),
        norm2: new T.LayerNorm(d, { eps: 1e-12 }),
      }),
  );
}

/** A BERT (Devlin et al. 2019) as Hugging Face's BertForMaskedLM, GELU, LayerNorm eps 1e-12, init std 0.02. */
export function smallBert(s: TextEncoderSize, seed: number | T.Generator): BertForMaskedLM {
  const gen = typeof seed === "number" ? new T.Generator(seed) : seed;
  const blocks = bertBlocks(s, gen);
  return new BertForMaskedLM({
    vocabSize: s.vocab,
    dModel: s.dModel,
    maxPositions: s.seqLen,
    typeVocabSize: 1,
    blocks,
    eps: 1e-12,
    headActivation: "gelu",
    initStd: 0.02,
    seed: gen,
  });
}

/** A frozen encoder for the probe: ids [B, T] and attentionMask [B, T] -> final hidden states [B, T, D]. */
export interface TextEncoder {
  dModel: number;
  states(ids: T.Tensor, attentionMask: T.Tensor): T.Tensor;
}

/** BertForMaskedLM's encoder (its MLM head left out) as a TextEncoder. */
export const bertEncoder = (model: BertForMaskedLM): TextEncoder => ({ dModel: model.opts.dModel, states: (ids, att) => encoderStates(model, ids, att) });

/** The encoder without the MLM head: ids [B, T], attentionMask [B, T] (1 = token) -> final hidden states [B, T, D]. */
export function encoderStates(model: BertForMaskedLM, ids: T.Tensor, attentionMask: T.Tensor): T.Tensor {
  const Tn = ids.shape[1];
  const positions = T.arange(0, Tn, 1, { dtype: "int32" });
  let h = model.embedNorm.forward(T.add(T.add(model.embed.forward(ids), model.pos.forward(positions)), model.types.forward(T.zerosLike(ids))));
  const keyPadding = T.eq(attentionMask, 0); // [B, T] true = padding
  for (const b of model.blocks) h = b.forward(h, undefined, { keyPadding }).y;
  return h;
}

/**
 * BERT's MLM head on the selected positions only (as BERT's and ELECTRA's pre-training code,
 * `gather_indexes`): hidden [B, T, D] and the flat indices b * T + t of the K selected positions
 * -> logits [K, V]. The same values as the full head's logits at those positions, at K / (B T)
 * of its cost.
 */
export function mlmLogitsAt(model: BertForMaskedLM, hidden: T.Tensor, flatPositions: Int32Array): T.Tensor {
  const [B, Tn, D] = hidden.shape;
  const rows = T.indexSelect(T.reshape(hidden, [B * Tn, D]), 0, T.tensor(flatPositions, { shape: [flatPositions.length], dtype: "int32" })); // [K, D]
  const t = model.headNorm.forward(activate(model.headDense.forward(rows), model.opts.headActivation));
  return T.add(T.linear(t, model.embed.weight), model.headBias); // [K, V]
}

/** The flat indices b * T + t where labels [B, T] are not -100, and the labels there. */
export function selectedPositions(labels: T.Tensor): { positions: Int32Array; labels: Int32Array } {
  const y = labels.dataSync() as Int32Array;
  const positions: number[] = [];
  for (let i = 0; i < y.length; i++) if (y[i] !== -100) positions.push(i);
  return { positions: Int32Array.from(positions), labels: Int32Array.from(positions, (i) => y[i]) };
}

/** ids, attention mask and word ids of a batch, as [B, T] int32 tensors / host rows. */
export function textBatch(xs: readonly EncodedText[]): { ids: T.Tensor; attentionMask: T.Tensor; wordIds: number[][] } {
  const B = xs.length;
  const L = xs[0].ids.length;
  const ids = new Int32Array(B * L);
  const att = new Int32Array(B * L);
  xs.forEach((x, b) => {
    ids.set(x.ids, b * L);
    att.fill(1, b * L, b * L + x.length);
  });
  return {
    ids: T.tensor(ids, { shape: [B, L], dtype: "int32" }),
    attentionMask: T.tensor(att, { shape: [B, L], dtype: "int32" }),
    wordIds: xs.map((x) => Array.from(x.wordIds)),
  };
}

/** Frozen features for the probe: mean of the final hidden states over each text's tokens ([CLS] .. [SEP]). */
export function pooledFeatures(encoder: TextEncoder, xs: readonly EncodedText[], batch = 50): Features {
  const D = encoder.dModel;
  const out = new Float32Array(xs.length * D);
  for (let i = 0; i < xs.length; i += batch) {
    T.tidy(() => {
      const b = textBatch(xs.slice(i, i + batch));
      const h = encoder.states(b.ids, b.attentionMask); // [B, T, D]
      const m = T.unsqueeze(T.cast(b.attentionMask, "float32"), -1); // [B, T, 1]
      const pooled = T.div(T.sum(T.mul(h, m), 1), T.sum(m, 1)); // [B, D]
      out.set(pooled.dataSync() as Float32Array, i * D);
    });
  }
  return { x: out, y: xs.map((x) => x.label), dim: D };
}

/**
 * Matmul FLOPs of one forward pass per token (2 per multiply-add): per block the q, k, v, o
 * projections (4 d^2), the MLP (2 d inner) and attention's scores and weighted sum (2 T d);
 * plus the head: MLM (dense d^2 + tied decoder d V, on the `mlmShare` of the tokens it runs on:
 * 1 for every position, 0.15 for the selected ones of mlmLogitsAt) or a detection head
 * (`head` = "detect": d^2 + d on every token).
 */
export function forwardFlopsPerToken(s: TextEncoderSize, head: "mlm" | "detect", mlmShare = 1): number {
  const d = s.dModel;
  const block = 4 * d * d + 2 * d * s.inner + 2 * s.seqLen * d;
  const top = head === "mlm" ? mlmShare * (d * d + d * s.vocab) : d * d + d;
  return 2 * (s.layers * block + top);
}

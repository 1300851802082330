/** BERT's Hugging Face names and config (BertForMaskedLM; the decoder is tied to the word embeddings). */
import { LayerNorm } from "@tessera/tensor";
import { BertForMaskedLM } from "../arch/bert";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "./build-options";
import { buildParts, HFConfig, type RawConfig } from "./config";
import { NameMap } from "./names";
import type { HFInfo } from "./weights";
import { initGenerator } from "../nn/init";

const L = "bert.encoder.layer.{i}";
export const BERT_NAMES = new NameMap([
  ["embed.weight", "bert.embeddings.word_embeddings.weight"],
  ["pos.weight", "bert.embeddings.position_embeddings.weight"],
  ["types.weight", "bert.embeddings.token_type_embeddings.weight"],
  ["embedNorm.{*}", "bert.embeddings.LayerNorm.{*}"],
  ["blocks.{i}.mixer.q.{*}", `${L}.attention.self.query.{*}`],
  ["blocks.{i}.mixer.k.{*}", `${L}.attention.self.key.{*}`],
  ["blocks.{i}.mixer.v.{*}", `${L}.attention.self.value.{*}`],
  ["blocks.{i}.mixer.o.{*}", `${L}.attention.output.dense.{*}`],
  ["blocks.{i}.norm1.{*}", `${L}.attention.output.LayerNorm.{*}`],
  ["blocks.{i}.mlp.up.{*}", `${L}.intermediate.dense.{*}`],
  ["blocks.{i}.mlp.down.{*}", `${L}.output.dense.{*}`],
  ["blocks.{i}.norm2.{*}", `${L}.output.LayerNorm.{*}`],
  ["headDense.{*}", "cls.predictions.transform.dense.{*}"],
  ["headNorm.{*}", "cls.predictions.transform.LayerNorm.{*}"],
  ["headBias", "cls.predictions.bias"],
]);

export function buildBert(raw: RawConfig, opts: BuildOptions = {}): { model: BertForMaskedLM; info: HFInfo } {
  const c = new HFConfig(raw, "bert");
  c.reject("position_embedding_type", (v) => v === "absolute", "only absolute position embeddings are implemented");
  c.reject("is_decoder", (v) => v === false, "BERT as a decoder is not implemented");
  c.reject("add_cross_attention", (v) => v === false, "cross-attention is not implemented");
  const d = c.size("hidden_size");
  const nHeads = c.size("num_attention_heads");
  const eps = c.num("layer_norm_eps", 1e-12, { positive: true });
  const L = c.size("num_hidden_layers");
  const inner = c.size("intermediate_size");
  const V = c.size("vocab_size");
  const P = c.size("max_position_embeddings", 512);
  const types = c.size("type_vocab_size", 2);
  const act = checkActivation("loadModel: bert hidden_act", c.str("hidden_act", "gelu"));
  const std = c.num("initializer_range", 0.02, { min: 0 });
  c.divisible("hidden_size", d, "num_attention_heads", nHeads);
  // Embeddings (words, positions, types, norm) + per block (q, k, v, o, MLP, two norms) + MLM head.
  c.checkBudget((V + P + types + 2) * d + L * (4 * d * d + 2 * d * inner + inner + 9 * d) + d * d + 3 * d + V, opts.maxParameterBytes);
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  return buildParts(
    L,
    (l) => {
      const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, causal: false, qkvBias: true, outBias: true, initStd: std, seed, backend });
      const mlp = new MLP({ dModel: d, hidden: inner, activation: act, initStd: std, seed, backend });
      return new Block({ placement: "post", mixer, norm1: new LayerNorm(d, { eps, backend }), mlp, norm2: new LayerNorm(d, { eps, backend }) });
    },
    (blocks) => {
      const model = new BertForMaskedLM({ vocabSize: V, dModel: d, maxPositions: P, typeVocabSize: types, blocks, eps, headActivation: act, initStd: std, seed, backend });
      const info: HFInfo = {
        modelType: "bert",
        config: raw,
        names: BERT_NAMES,
        tied: ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"],
        ignore: [/position_ids$/, /^bert\.pooler\./, /^cls\.seq_relationship\./],
      };
      return { model, info };
    },
  );
}

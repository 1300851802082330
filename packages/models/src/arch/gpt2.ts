/**
 * GPT-2 (Radford et al. 2019) as Hugging Face's GPT2LMHeadModel: learned positions, pre-norm
 * LayerNorm blocks, a fused qkv `Conv1D` ([in, out] weights), the gelu_new MLP with 4 d inner
 * width, and a head tied to the token embedding.
 */
import { LayerNorm } from "@tessera/tensor";
import { CausalLM } from "./causal-lm";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "../hf/build-options";
import { buildParts, HFConfig, type RawConfig } from "../hf/config";
import { NameMap } from "../hf/names";
import type { HFInfo } from "../hf/weights";
import { initGenerator } from "../nn/init";

export const GPT2_NAMES = new NameMap([
  ["embed.weight", "transformer.wte.weight"],
  ["pos.weight", "transformer.wpe.weight"],
  ["blocks.{i}.norm1.{*}", "transformer.h.{i}.ln_1.{*}"],
  ["blocks.{i}.mixer.qkv.{*}", "transformer.h.{i}.attn.c_attn.{*}"],
  ["blocks.{i}.mixer.o.{*}", "transformer.h.{i}.attn.c_proj.{*}"],
  ["blocks.{i}.norm2.{*}", "transformer.h.{i}.ln_2.{*}"],
  ["blocks.{i}.mlp.up.{*}", "transformer.h.{i}.mlp.c_fc.{*}"],
  ["blocks.{i}.mlp.down.{*}", "transformer.h.{i}.mlp.c_proj.{*}"],
  ["norm.{*}", "transformer.ln_f.{*}"],
  ["head.weight", "lm_head.weight"],
]);

export function buildGPT2(raw: RawConfig, opts: BuildOptions = {}): { model: CausalLM; info: HFInfo } {
  const c = new HFConfig(raw, "gpt2");
  c.reject("add_cross_attention", (v) => v === false, "cross-attention (encoder-decoder GPT-2) is not implemented");
  const d = c.size("n_embd");
  const nHeads = c.size("n_head");
  const L = c.size("n_layer");
  const V = c.size("vocab_size");
  const inner = c.has("n_inner") ? c.size("n_inner") : 4 * d;
  const P = c.size("n_positions", 1024);
  const eps = c.num("layer_norm_epsilon", 1e-5, { positive: true });
  const act = checkActivation("loadModel: gpt2 activation_function", c.str("activation_function", "gelu_new"));
  const scaleWeights = c.bool("scale_attn_weights", true);
  const byLayer = c.bool("scale_attn_by_inverse_layer_idx", false);
  const tie = c.bool("tie_word_embeddings", true);
  const std = c.num("initializer_range", 0.02, { min: 0 });
  c.divisible("n_embd", d, "n_head", nHeads);
  // Embeddings + per block (qkv, out, MLP, two norms) + final norm; the head is tied or V x d.
  c.checkBudget((V + P) * d + L * (4 * d * d + 2 * d * inner + inner + 9 * d) + 2 * d + (tie ? 0 : V * d), opts.maxParameterBytes);
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  return buildParts(
    L,
    (l) => {
      const scale = (scaleWeights ? 1 / Math.sqrt(d / nHeads) : 1) / (byLayer ? l + 1 : 1);
      const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, fused: true, qkvBias: true, outBias: true, layout: "in-out", scale, initStd: std, seed, backend });
      const mlp = opts.mlp?.(l, d);
      const mlpLayer = mlp === undefined ? new MLP({ dModel: d, hidden: inner, activation: act, layout: "in-out", initStd: std, seed, backend }) : mlp;
      return new Block({ norm1: new LayerNorm(d, { eps, backend }), mixer, norm2: mlpLayer ? new LayerNorm(d, { eps, backend }) : null, mlp: mlpLayer, post: opts.post?.(l, d) });
    },
    (blocks) => {
      const model = new CausalLM({
        vocabSize: V,
        dModel: d,
        blocks,
        finalNorm: new LayerNorm(d, { eps, backend }),
        maxPositions: P,
        tieEmbeddings: tie,
        hiddenStates: "embeddings",
        initStd: std,
        seed,
        backend,
      });
      const info: HFInfo = { modelType: "gpt2", config: raw, names: GPT2_NAMES, ignore: [/\.attn\.(masked_)?bias$/], tied: tie ? ["lm_head.weight"] : [] };
      return { model, info };
    },
  );
}

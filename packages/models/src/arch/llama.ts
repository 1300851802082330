/**
 * Llama (Touvron et al. 2023) as Hugging Face's LlamaForCausalLM: RMSNorm pre-norm blocks,
 * grouped-query attention with rotary embeddings (rotate_half pairing), and the SwiGLU MLP.
 * Mistral (sliding-window attention) and Qwen2 (q/k/v biases) share the architecture.
 */
import { RMSNorm } from "@tessera/tensor";
import { CausalLM } from "./causal-lm";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "../hf/build-options";
import { buildParts, HFConfig, type RawConfig } from "../hf/config";
import { NameMap } from "../hf/names";
import { ropeFromConfig } from "../hf/rope-config";
import type { HFInfo } from "../hf/weights";
import { initGenerator } from "../nn/init";

export const LLAMA_NAMES = new NameMap([
  ["embed.weight", "model.embed_tokens.weight"],
  ["blocks.{i}.norm1.{*}", "model.layers.{i}.input_layernorm.{*}"],
  ["blocks.{i}.mixer.q.{*}", "model.layers.{i}.self_attn.q_proj.{*}"],
  ["blocks.{i}.mixer.k.{*}", "model.layers.{i}.self_attn.k_proj.{*}"],
  ["blocks.{i}.mixer.v.{*}", "model.layers.{i}.self_attn.v_proj.{*}"],
  ["blocks.{i}.mixer.o.{*}", "model.layers.{i}.self_attn.o_proj.{*}"],
  ["blocks.{i}.norm2.{*}", "model.layers.{i}.post_attention_layernorm.{*}"],
  ["blocks.{i}.mlp.gate.{*}", "model.layers.{i}.mlp.gate_proj.{*}"],
  ["blocks.{i}.mlp.up.{*}", "model.layers.{i}.mlp.up_proj.{*}"],
  ["blocks.{i}.mlp.down.{*}", "model.layers.{i}.mlp.down_proj.{*}"],
  ["norm.{*}", "model.norm.{*}"],
  ["head.weight", "lm_head.weight"],
]);

export type LlamaFamily = "llama" | "mistral" | "qwen2";

export function buildLlama(raw: RawConfig, opts: BuildOptions = {}, family: LlamaFamily = "llama"): { model: CausalLM; info: HFInfo } {
  const c = new HFConfig(raw, family);
  c.reject("use_sliding_window", (v) => v === false, "Qwen2's per-layer sliding window is not implemented");
  c.reject("pretraining_tp", (v) => typeof v === "number", "must be a number");
  const d = c.size("hidden_size");
  const nHeads = c.size("num_attention_heads");
  const nKvHeads = c.size("num_key_value_heads", nHeads);
  const headDim = c.size("head_dim", d / nHeads);
  const L = c.size("num_hidden_layers");
  const V = c.size("vocab_size");
  const maxPositions = c.size("max_position_embeddings", 2048);
  const eps = c.num("rms_norm_eps", 1e-6, { positive: true });
  const inner = opts.mlp ? 0 : c.size("intermediate_size");
  const act = checkActivation(`loadModel: ${family} hidden_act`, c.str("hidden_act", "silu"));
  const attnBias = c.bool("attention_bias", false);
  const qkvBias = family === "qwen2" ? true : attnBias;
  const mlpBias = c.bool("mlp_bias", false);
  const window = family === "mistral" && c.has("sliding_window") ? c.size("sliding_window") : null;
  const tie = c.bool("tie_word_embeddings", false);
  const std = c.num("initializer_range", 0.02, { min: 0 });
  if (!c.has("head_dim")) c.divisible("hidden_size", d, "num_attention_heads", nHeads);
  c.divisible("num_attention_heads", nHeads, "num_key_value_heads", nKvHeads);
  const rope = ropeFromConfig(c, maxPositions, headDim);
  // Embeddings (+ an untied head) + per block (q, k, v, o, gated MLP, two norms) + final norm.
  const attn = d * headDim * (2 * nHeads + 2 * nKvHeads);
  c.checkBudget(V * d * (tie ? 1 : 2) + L * (attn + 3 * d * inner + 2 * d) + d, opts.maxParameterBytes);
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  return buildParts(
    L,
    (l) => {
      const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, nKvHeads, headDim, rope, window, qkvBias, outBias: attnBias, initStd: std, seed, backend });
      const mlp = opts.mlp?.(l, d);
      const mlpLayer = mlp === undefined ? new MLP({ dModel: d, hidden: inner, activation: act, gated: true, bias: mlpBias, initStd: std, seed, backend }) : mlp;
      return new Block({ norm1: new RMSNorm(d, { eps, backend }), mixer, norm2: mlpLayer ? new RMSNorm(d, { eps, backend }) : null, mlp: mlpLayer, post: opts.post?.(l, d) });
    },
    (blocks) => {
      const model = new CausalLM({
        vocabSize: V,
        dModel: d,
        blocks,
        finalNorm: new RMSNorm(d, { eps, backend }),
        tieEmbeddings: tie,
        hiddenStates: "embeddings",
        initStd: std,
        seed,
        backend,
      });
      const info: HFInfo = { modelType: family, config: raw, names: LLAMA_NAMES, ignore: [/rotary_emb\.inv_freq$/], tied: tie ? ["lm_head.weight"] : [] };
      return { model, info };
    },
  );
}

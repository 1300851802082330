/**
 * Mamba (Gu & Dao 2023) and Mamba-2 (Dao & Gu 2024) as Hugging Face's MambaForCausalLM and
 * Mamba2ForCausalLM: RMSNorm pre-norm blocks of one mixer each (no MLP); the mixers are
 * @tessera/ssm's, whose parameter names are mamba_ssm's.
 */
import { RMSNorm } from "@tessera/tensor";
import { Mamba2Mixer, MambaMixer } from "@tessera/ssm";
import { CausalLM } from "./causal-lm";
import type { MixerModule } from "../nn/block";
import { Block } from "../nn/block";
import type { BuildOptions } from "../hf/build-options";
import { buildParts, HFConfig, jsonNumber, type RawConfig } from "../hf/config";
import { NameMap } from "../hf/names";
import type { HFInfo } from "../hf/weights";
import { initGenerator } from "../nn/init";

export const MAMBA_NAMES = new NameMap([
  ["embed.weight", "backbone.embeddings.weight"],
  ["blocks.{i}.norm1.{*}", "backbone.layers.{i}.norm.{*}"],
  ["blocks.{i}.mixer.{*}", "backbone.layers.{i}.mixer.{*}"],
  ["norm.{*}", "backbone.norm_f.{*}"],
  ["head.weight", "lm_head.weight"],
]);

export function buildMamba(raw: RawConfig, opts: BuildOptions = {}, version: 1 | 2 = 1): { model: CausalLM; info: HFInfo } {
  const type = version === 1 ? "mamba" : "mamba2";
  const c = new HFConfig(raw, type);
  c.reject("hidden_act", (v) => v === "silu", "Mamba blocks use silu");
  c.reject("rms_norm", (v) => v === true, "Mamba-2 without RMSNorm is not implemented");
  const d = c.size("hidden_size");
  const L = c.size("num_hidden_layers");
  const V = c.size("vocab_size");
  const expand = c.size("expand", 2);
  const eps = c.num("layer_norm_epsilon", 1e-5, { positive: true });
  const dState = c.size("state_size", 16);
  const dConv = c.size("conv_kernel", 4);
  const bias = c.bool("use_bias", false);
  const convBias = c.bool("use_conv_bias", true);
  const std = c.num("initializer_range", 0.1, { min: 0 });
  const tie = c.bool("tie_word_embeddings", true);
  const dInner = expand * d;
  // Embedding (+ untied head) + per block: in_proj, conv, x/dt projections or the SSD heads, out_proj, A, D, norms (upper estimate).
  c.checkBudget(
    V * d * (tie ? 1 : 2) + L * (2 * d * dInner + dInner * (dConv + 2 * dState + 4) + dInner * (2 * dState + Math.ceil(d / 16) + 2) + dInner * d + 2 * d) + d,
    opts.maxParameterBytes,
  );
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  let mixer: (l: number) => MixerModule;
  if (version === 1) {
    c.reject("intermediate_size", (v) => v === expand * d, `must equal expand * hidden_size = ${expand * d}`);
    const dtRank = raw.time_step_rank === "auto" || raw.time_step_rank === undefined ? Math.ceil(d / 16) : c.size("time_step_rank");
    mixer = () => new MambaMixer({ dModel: d, dState, dConv, expand, dtRank, bias, convBias, seed, backend });
  } else {
    const headDim = c.size("head_dim", 64);
    const nHeads = c.size("num_heads", (expand * d) / headDim);
    c.reject("num_heads", (v) => v === (expand * d) / headDim, `must equal expand * hidden_size / head_dim = ${(expand * d) / headDim}`);
    const limit = Array.isArray(raw.time_step_limit) ? raw.time_step_limit.map(jsonNumber) : [0, Infinity];
    const dtLimit: [number, number] = [limit[0], limit[1]];
    void nHeads;
    // Hugging Face's gated RMSNorm normalises all d_inner channels together (normGroupSize).
    mixer = () =>
      new Mamba2Mixer({
        dModel: d,
        dState,
        dConv,
        expand,
        headDim,
        nGroups: c.size("n_groups", 1),
        chunkSize: c.size("chunk_size", 256),
        dtLimit,
        bias,
        convBias,
        normEps: eps,
        normGroupSize: expand * d,
        seed,
        backend,
      });
  }
  return buildParts(
    L,
    (l) => {
      const m = opts.mixer?.(l, d) ?? mixer(l); // factories first: a throwing one leaves nothing half-built
      return new Block({ norm1: new RMSNorm(d, { eps, backend }), mixer: m, post: opts.post?.(l, d) });
    },
    (blocks) => {
      const model = new CausalLM({
        vocabSize: V,
        dModel: d,
        blocks,
        finalNorm: new RMSNorm(d, { eps, backend }),
        tieEmbeddings: tie,
        hiddenStates: "blocks",
        initStd: std,
        seed,
        backend,
      });
      return { model, info: { modelType: type, config: raw, names: MAMBA_NAMES, tied: tie ? ["lm_head.weight"] : [] } };
    },
  );
}

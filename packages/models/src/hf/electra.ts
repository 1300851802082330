/**
 * ELECTRA's Hugging Face names and config: ElectraForPreTraining (the discriminator) and
 * ElectraForMaskedLM (the generator; its LM head is tied to the word embeddings), chosen by
 * config.json `architectures`; and the generator/discriminator pair built from one config.
 */
import { LayerNorm } from "@tessera/tensor";
import { Electra, ElectraDiscriminator, ElectraEmbeddings, ElectraGenerator } from "../arch/electra";
import { fail } from "../errors";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "./build-options";
import { buildParts, HFConfig, type RawConfig } from "./config";
import { NameMap, type NameRule } from "./names";
import type { HFInfo } from "./weights";
import { initGenerator } from "../nn/init";

const L = "electra.encoder.layer.{i}";
const ENCODER_RULES: NameRule[] = [
  ["encoder.embeddings.word.weight", "electra.embeddings.word_embeddings.weight"],
  ["encoder.embeddings.pos.weight", "electra.embeddings.position_embeddings.weight"],
  ["encoder.embeddings.types.weight", "electra.embeddings.token_type_embeddings.weight"],
  ["encoder.embeddings.norm.{*}", "electra.embeddings.LayerNorm.{*}"],
  ["encoder.project.{*}", "electra.embeddings_project.{*}"],
  ["encoder.blocks.{i}.mixer.q.{*}", `${L}.attention.self.query.{*}`],
  ["encoder.blocks.{i}.mixer.k.{*}", `${L}.attention.self.key.{*}`],
  ["encoder.blocks.{i}.mixer.v.{*}", `${L}.attention.self.value.{*}`],
  ["encoder.blocks.{i}.mixer.o.{*}", `${L}.attention.output.dense.{*}`],
  ["encoder.blocks.{i}.norm1.{*}", `${L}.attention.output.LayerNorm.{*}`],
  ["encoder.blocks.{i}.mlp.up.{*}", `${L}.intermediate.dense.{*}`],
  ["encoder.blocks.{i}.mlp.down.{*}", `${L}.output.dense.{*}`],
  ["encoder.blocks.{i}.norm2.{*}", `${L}.output.LayerNorm.{*}`],
];

export const ELECTRA_DISCRIMINATOR_NAMES = new NameMap([
  ...ENCODER_RULES,
  ["headDense.{*}", "discriminator_predictions.dense.{*}"],
  ["headOut.{*}", "discriminator_predictions.dense_prediction.{*}"],
]);

export const ELECTRA_GENERATOR_NAMES = new NameMap([
  ...ENCODER_RULES,
  ["headDense.{*}", "generator_predictions.dense.{*}"],
  ["headNorm.{*}", "generator_predictions.LayerNorm.{*}"],
  ["headBias", "generator_lm_head.bias"],
]);

const IGNORE = [/position_ids$/, /token_type_ids$/];

/** True when config.json describes ElectraForMaskedLM (the generator); else the discriminator. */
export function isElectraGenerator(raw: RawConfig): boolean {
  const a = raw.architectures;
  return Array.isArray(a) && a.includes("ElectraForMaskedLM") && !a.includes("ElectraForPreTraining");
}

interface ElectraSizes {
  c: HFConfig;
  d: number;
  nHeads: number;
  layers: number;
  inner: number;
  eps: number;
  std: number;
  act: ReturnType<typeof checkActivation>;
}

function readSizes(raw: RawConfig, opts: BuildOptions, head: number): ElectraSizes {
  const c = new HFConfig(raw, "electra");
  c.reject("position_embedding_type", (v) => v === "absolute", "only absolute position embeddings are implemented");
  c.reject("is_decoder", (v) => v === false, "ELECTRA as a decoder is not implemented");
  c.reject("add_cross_attention", (v) => v === false, "cross-attention is not implemented");
  const d = c.size("hidden_size");
  const nHeads = c.size("num_attention_heads");
  const layers = c.size("num_hidden_layers");
  const inner = c.size("intermediate_size");
  const V = c.size("vocab_size");
  const E = c.size("embedding_size", d);
  const P = c.size("max_position_embeddings", 512);
  const types = c.size("type_vocab_size", 2);
  const eps = c.num("layer_norm_eps", 1e-12, { positive: true });
  const act = checkActivation("loadModel: electra hidden_act", c.str("hidden_act", "gelu"));
  const std = c.num("initializer_range", 0.02, { min: 0 });
  c.divisible("hidden_size", d, "num_attention_heads", nHeads);
  // Embeddings (+ projection) + per block (q, k, v, o, MLP, two norms) + the head.
  c.checkBudget((V + P + types + 2) * E + (E + 1) * d + layers * (4 * d * d + 2 * d * inner + inner + 9 * d) + head, opts.maxParameterBytes);
  return { c, d, nHeads, layers, inner, eps, std, act };
}

/** The shared embeddings a config describes (vocab_size, embedding_size, max_position_embeddings, type_vocab_size). */
export function electraEmbeddings(raw: RawConfig, opts: BuildOptions = {}): ElectraEmbeddings {
  const c = new HFConfig(raw, "electra");
  const d = c.size("hidden_size");
  return new ElectraEmbeddings({
    vocabSize: c.size("vocab_size"),
    embeddingSize: c.size("embedding_size", d),
    maxPositions: c.size("max_position_embeddings", 512),
    typeVocabSize: c.size("type_vocab_size", 2),
    eps: c.num("layer_norm_eps", 1e-12, { positive: true }),
    initStd: c.num("initializer_range", 0.02, { min: 0 }),
    seed: opts.seed,
    backend: opts.backend,
  });
}

function bertBlocks(s: ElectraSizes, opts: BuildOptions): (l: number) => Block {
  const { backend, seed } = opts;
  const { d, nHeads, inner, eps, std, act } = s;
  return (l) => {
    const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, causal: false, qkvBias: true, outBias: true, initStd: std, seed, backend });
    const mlp = new MLP({ dModel: d, hidden: inner, activation: act, initStd: std, seed, backend });
    return new Block({ placement: "post", mixer, norm1: new LayerNorm(d, { eps, backend }), mlp, norm2: new LayerNorm(d, { eps, backend }) });
  };
}

/** Checks that `e` has the sizes the config asks for (a shared embeddings module). */
function checkShared(raw: RawConfig, e: ElectraEmbeddings): void {
  const c = new HFConfig(raw, "electra");
  const d = c.size("hidden_size");
  const want = {
    vocabSize: c.size("vocab_size"),
    embeddingSize: c.size("embedding_size", d),
    maxPositions: c.size("max_position_embeddings", 512),
    typeVocabSize: c.size("type_vocab_size", 2),
  };
  for (const [k, v] of Object.entries(want)) {
    const has = e.opts[k as keyof typeof want];
    if (has !== v) fail("loadModel", `config.json (electra): the shared embeddings have ${k} ${has} but this config asks for ${v}`);
  }
}

/** ElectraForPreTraining from its config; `embeddings` shares an existing embeddings module. */
export function buildElectraDiscriminator(raw: RawConfig, opts: BuildOptions & { embeddings?: ElectraEmbeddings } = {}): { model: ElectraDiscriminator; info: HFInfo } {
  const probe = new HFConfig(raw, "electra");
  const dh = probe.size("hidden_size");
  const s = readSizes(raw, opts, dh * dh + 2 * dh + 1);
  if (opts.embeddings) checkShared(raw, opts.embeddings);
  const seeded = { ...opts, seed: initGenerator(opts.seed) }; // one stream: blocks, embeddings and head
  return buildParts(s.layers, bertBlocks(s, seeded), (blocks) => {
    const embeddings = opts.embeddings ?? electraEmbeddings(raw, seeded);
    const model = new ElectraDiscriminator({ embeddings, dModel: s.d, blocks, headActivation: s.act, initStd: s.std, seed: seeded.seed, backend: opts.backend });
    return { model, info: { modelType: "electra", config: raw, names: ELECTRA_DISCRIMINATOR_NAMES, ignore: IGNORE } };
  });
}

/** ElectraForMaskedLM (the generator) from its config; `embeddings` shares an existing embeddings module. */
export function buildElectraGenerator(raw: RawConfig, opts: BuildOptions & { embeddings?: ElectraEmbeddings } = {}): { model: ElectraGenerator; info: HFInfo } {
  const probe = new HFConfig(raw, "electra");
  const dh = probe.size("hidden_size");
  const E = probe.size("embedding_size", dh);
  const s = readSizes(raw, opts, dh * E + 3 * E + probe.size("vocab_size"));
  if (opts.embeddings) checkShared(raw, opts.embeddings);
  const seeded = { ...opts, seed: initGenerator(opts.seed) }; // one stream: blocks, embeddings and head
  return buildParts(s.layers, bertBlocks(s, seeded), (blocks) => {
    const embeddings = opts.embeddings ?? electraEmbeddings(raw, seeded);
    const model = new ElectraGenerator({ embeddings, dModel: s.d, blocks, eps: s.eps, initStd: s.std, seed: seeded.seed, backend: opts.backend });
    return { model, info: { modelType: "electra", config: raw, names: ELECTRA_GENERATOR_NAMES, ignore: IGNORE, tied: ["generator_lm_head.weight"] } };
  });
}

/**
 * The generator's config for a discriminator's, after ELECTRA's `get_generator_config`
 * (Clark et al. 2020 §3.2: a generator 1/4 to 1/2 the discriminator's size works best): hidden
 * and intermediate sizes times `fraction`, max(1, heads x fraction) heads, the same depth and
 * embeddings; `architectures` ElectraForMaskedLM.
 */
export function electraGeneratorConfig(discriminator: RawConfig, fraction = 0.25): RawConfig {
  if (!(fraction > 0 && fraction <= 1)) fail("electraGeneratorConfig", `fraction must be in (0, 1], got ${fraction}`);
  const c = new HFConfig(discriminator, "electra");
  const d = c.size("hidden_size");
  const heads = Math.max(1, Math.round(c.size("num_attention_heads") * fraction));
  const hidden = Math.round(d * fraction);
  if (hidden < 1 || hidden % heads !== 0)
    fail("electraGeneratorConfig", `hidden_size ${d} x fraction ${fraction} = ${hidden} must be a positive multiple of the ${heads} generator heads`);
  return {
    ...discriminator,
    architectures: ["ElectraForMaskedLM"],
    embedding_size: c.size("embedding_size", d),
    hidden_size: hidden,
    num_attention_heads: heads,
    intermediate_size: Math.max(1, Math.round(c.size("intermediate_size") * fraction)),
  };
}

/**
 * The pre-training pair from a discriminator config and a generator config (default
 * electraGeneratorConfig(discriminator)): one ElectraEmbeddings shared by both.
 */
export function electraFromConfigs(discriminator: RawConfig, generator: RawConfig = electraGeneratorConfig(discriminator), opts: BuildOptions = {}): Electra {
  const seed = initGenerator(opts.seed); // one stream: the generator draws after the discriminator
  const d = buildElectraDiscriminator(discriminator, { ...opts, seed }).model;
  try {
    const g = buildElectraGenerator(generator, { ...opts, seed, embeddings: d.encoder.embeddings }).model;
    return new Electra({ generator: g, discriminator: d });
  } catch (e) {
    d.dispose();
    throw e;
  }
}

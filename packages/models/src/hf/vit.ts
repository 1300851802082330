/** ViT's Hugging Face names and config (ViTForImageClassification). */
import { LayerNorm } from "@tessera/tensor";
import { ViTForImageClassification } from "../arch/vit";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "./build-options";
import { buildParts, HFConfig, type RawConfig } from "./config";
import { NameMap } from "./names";
import type { HFInfo } from "./weights";
import { initGenerator } from "../nn/init";

const L = "vit.encoder.layer.{i}";
export const VIT_NAMES = new NameMap([
  ["cls", "vit.embeddings.cls_token"],
  ["pos", "vit.embeddings.position_embeddings"],
  ["patch.{*}", "vit.embeddings.patch_embeddings.projection.{*}"],
  ["blocks.{i}.norm1.{*}", `${L}.layernorm_before.{*}`],
  ["blocks.{i}.mixer.q.{*}", `${L}.attention.attention.query.{*}`],
  ["blocks.{i}.mixer.k.{*}", `${L}.attention.attention.key.{*}`],
  ["blocks.{i}.mixer.v.{*}", `${L}.attention.attention.value.{*}`],
  ["blocks.{i}.mixer.o.{*}", `${L}.attention.output.dense.{*}`],
  ["blocks.{i}.norm2.{*}", `${L}.layernorm_after.{*}`],
  ["blocks.{i}.mlp.up.{*}", `${L}.intermediate.dense.{*}`],
  ["blocks.{i}.mlp.down.{*}", `${L}.output.dense.{*}`],
  ["norm.{*}", "vit.layernorm.{*}"],
]);

export function buildViT(raw: RawConfig, opts: BuildOptions = {}): { model: ViTForImageClassification; info: HFInfo } {
  const c = new HFConfig(raw, "vit");
  const d = c.size("hidden_size");
  const nHeads = c.size("num_attention_heads");
  const eps = c.num("layer_norm_eps", 1e-12, { positive: true });
  const L = c.size("num_hidden_layers");
  const inner = c.size("intermediate_size");
  const image = c.size("image_size", 224);
  const patch = c.size("patch_size", 16);
  const channels = c.size("num_channels", 3);
  const act = checkActivation("loadModel: vit hidden_act", c.str("hidden_act", "gelu"));
  const qkvBias = c.bool("qkv_bias", true);
  const std = c.num("initializer_range", 0.02, { min: 0 });
  c.divisible("hidden_size", d, "num_attention_heads", nHeads);
  c.divisible("image_size", image, "patch_size", patch);
  const numLabels = raw.id2label && typeof raw.id2label === "object" ? Object.keys(raw.id2label).length : c.size("num_labels", 2);
  const numPatches = (image / patch) ** 2;
  // Patch embedding, positions and class token + per block (q, k, v, o, MLP, two norms) + norm + classifier.
  c.checkBudget(channels * patch * patch * d + (numPatches + 3) * d + L * (4 * d * d + 2 * d * inner + inner + 9 * d) + 2 * d + numLabels * (d + 1), opts.maxParameterBytes);
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  return buildParts(
    L,
    (l) => {
      const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, causal: false, qkvBias, outBias: true, initStd: std, seed, backend });
      const mlp = new MLP({ dModel: d, hidden: inner, activation: act, initStd: std, seed, backend });
      return new Block({ mixer, norm1: new LayerNorm(d, { eps, backend }), mlp, norm2: new LayerNorm(d, { eps, backend }) });
    },
    (blocks) => {
      const model = new ViTForImageClassification({ imageSize: image, patchSize: patch, channels, dModel: d, numLabels, blocks, eps, initStd: std, seed, backend });
      return { model, info: { modelType: "vit", config: raw, names: VIT_NAMES, ignore: [/^vit\.pooler\./] } };
    },
  );
}

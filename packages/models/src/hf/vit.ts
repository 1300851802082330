/** ViT's Hugging Face names and config (ViTForImageClassification). */
import { LayerNorm } from "@tessera/tensor";
import { ViTForImageClassification } from "../arch/vit";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "./build-options";
import { HFConfig, type RawConfig } from "./config";
import { NameMap } from "./names";
import type { HFInfo } from "./weights";

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
  const eps = c.num("layer_norm_eps", 1e-12);
  const act = checkActivation("loadModel: vit hidden_act", c.str("hidden_act", "gelu"));
  const qkvBias = c.bool("qkv_bias", true);
  const std = c.num("initializer_range", 0.02);
  const numLabels = raw.id2label && typeof raw.id2label === "object" ? Object.keys(raw.id2label).length : c.size("num_labels", 2);
  const { backend, seed } = opts;
  const blocks = Array.from({ length: c.size("num_hidden_layers") }, (_, l) => {
    const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, causal: false, qkvBias, outBias: true, initStd: std, seed, backend });
    const mlp = new MLP({ dModel: d, hidden: c.size("intermediate_size"), activation: act, initStd: std, seed, backend });
    return new Block({ mixer, norm1: new LayerNorm(d, { eps, backend }), mlp, norm2: new LayerNorm(d, { eps, backend }) });
  });
  const model = new ViTForImageClassification({ imageSize: c.size("image_size", 224), patchSize: c.size("patch_size", 16), channels: c.size("num_channels", 3), dModel: d, numLabels, blocks, eps, initStd: std, seed, backend });
  return { model, info: { modelType: "vit", config: raw, names: VIT_NAMES, ignore: [/^vit\.pooler\./] } };
}

/** BEiT's Hugging Face names and config (BeitForMaskedImageModeling). */
import { LayerNorm } from "@tessera/tensor";
import { BeitBlock, BeitForMaskedImageModeling, RelativePositionBias } from "../arch/beit";
import { checkActivation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "./build-options";
import { buildParts, HFConfig, type RawConfig } from "./config";
import { NameMap } from "./names";
import { vitLayerRules } from "./vit-mae";
import type { HFInfo } from "./weights";
import { initGenerator } from "../nn/init";

const L = "beit.encoder.layer.{i}";
export const BEIT_NAMES = new NameMap([
  ["cls", "beit.embeddings.cls_token"],
  ["maskToken", "beit.embeddings.mask_token"],
  ["pos", "beit.embeddings.position_embeddings"],
  ["patch.{*}", "beit.embeddings.patch_embeddings.projection.{*}"],
  ["sharedBias.table", "beit.encoder.relative_position_bias.relative_position_bias_table"],
  ["blocks.{i}.relativeBias.table", `${L}.attention.attention.relative_position_bias.relative_position_bias_table`],
  ["blocks.{i}.lambda1", `${L}.lambda_1`],
  ["blocks.{i}.lambda2", `${L}.lambda_2`],
  ...vitLayerRules("blocks", "beit.encoder.layer"),
  ["encoderNorm.{*}", "beit.layernorm.{*}"],
  ["norm.{*}", "layernorm.{*}"],
  ["head.{*}", "lm_head.{*}"],
]);

export function buildBeit(raw: RawConfig, opts: BuildOptions = {}): { model: BeitForMaskedImageModeling; info: HFInfo } {
  const c = new HFConfig(raw, "beit");
  c.reject("use_mask_token", (v) => v === true, "masked image modelling needs the mask token");
  const d = c.size("hidden_size");
  const nHeads = c.size("num_attention_heads");
  const layers = c.size("num_hidden_layers");
  const inner = c.size("intermediate_size");
  const V = c.size("vocab_size", 8192);
  const eps = c.num("layer_norm_eps", 1e-12, { positive: true });
  const image = c.size("image_size", 224);
  const patch = c.size("patch_size", 16);
  const channels = c.size("num_channels", 3);
  const act = checkActivation("loadModel: beit hidden_act", c.str("hidden_act", "gelu"));
  const std = c.num("initializer_range", 0.02, { min: 0 });
  const layerScale = c.num("layer_scale_init_value", 0.1, { min: 0 });
  const absolute = c.bool("use_absolute_position_embeddings", false);
  const relative = c.bool("use_relative_position_bias", false);
  const shared = c.bool("use_shared_relative_position_bias", false);
  const meanPooling = c.bool("use_mean_pooling", true);
  c.divisible("hidden_size", d, "num_attention_heads", nHeads);
  c.divisible("image_size", image, "patch_size", patch);
  const grid = image / patch;
  const N = grid ** 2;
  const table = ((2 * grid - 1) ** 2 + 3) * nHeads;
  c.checkBudget(
    channels * patch * patch * d + (N + 4) * d + (shared ? table : 0) + layers * (4 * d * d + 2 * d * inner + inner + 10 * d + (relative ? table : 0)) + 4 * d + V * (d + 1),
    opts.maxParameterBytes,
  );
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  return buildParts(
    layers,
    (l) => {
      // BEiT's key projection has no bias (q and v have one).
      const mixer = opts.mixer?.(l, d) ?? new SelfAttention({ dModel: d, nHeads, causal: false, qkvBias: true, keyBias: false, outBias: true, initStd: std, seed, backend });
      const mlp = new MLP({ dModel: d, hidden: inner, activation: act, initStd: std, seed, backend });
      const relativeBias = relative ? new RelativePositionBias(grid, grid, nHeads, { backend }) : null;
      return new BeitBlock({ mixer, norm1: new LayerNorm(d, { eps, backend }), mlp, norm2: new LayerNorm(d, { eps, backend }), layerScale, relativeBias, backend });
    },
    (blocks) => {
      const model = new BeitForMaskedImageModeling({
        imageSize: image,
        patchSize: patch,
        channels,
        dModel: d,
        vocabSize: V,
        blocks,
        eps,
        absolutePositions: absolute,
        sharedRelativeBias: shared,
        nHeads,
        encoderNorm: !meanPooling,
        initStd: std,
        seed,
        backend,
      });
      return { model, info: { modelType: "beit", config: raw, names: BEIT_NAMES, ignore: [/relative_position_index$/] } };
    },
  );
}

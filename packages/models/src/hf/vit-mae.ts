/** ViTMAE's Hugging Face names and config (ViTMAEForPreTraining: encoder + decoder). */
import { LayerNorm, type Generator } from "@tessera/tensor";
import { MaskedAutoencoderViT } from "../arch/mae";
import { fail } from "../errors";
import { checkActivation, type Activation } from "../nn/activation";
import { SelfAttention } from "../nn/attention";
import { Block } from "../nn/block";
import { MLP } from "../nn/mlp";
import type { BuildOptions } from "./build-options";
import { buildParts, HFConfig, type RawConfig } from "./config";
import { NameMap } from "./names";
import type { HFInfo } from "./weights";
import { initGenerator } from "../nn/init";

/** The rules of one pre-norm ViT layer list (ViT, ViTMAE's encoder and decoder, BEiT). */
export function vitLayerRules(ours: string, hf: string): [string, string][] {
  return [
    [`${ours}.{i}.norm1.{*}`, `${hf}.{i}.layernorm_before.{*}`],
    [`${ours}.{i}.mixer.q.{*}`, `${hf}.{i}.attention.attention.query.{*}`],
    [`${ours}.{i}.mixer.k.{*}`, `${hf}.{i}.attention.attention.key.{*}`],
    [`${ours}.{i}.mixer.v.{*}`, `${hf}.{i}.attention.attention.value.{*}`],
    [`${ours}.{i}.mixer.o.{*}`, `${hf}.{i}.attention.output.dense.{*}`],
    [`${ours}.{i}.norm2.{*}`, `${hf}.{i}.layernorm_after.{*}`],
    [`${ours}.{i}.mlp.up.{*}`, `${hf}.{i}.intermediate.dense.{*}`],
    [`${ours}.{i}.mlp.down.{*}`, `${hf}.{i}.output.dense.{*}`],
  ];
}

export const VIT_MAE_NAMES = new NameMap([
  ["cls", "vit.embeddings.cls_token"],
  ["pos", "vit.embeddings.position_embeddings"],
  ["patch.{*}", "vit.embeddings.patch_embeddings.projection.{*}"],
  ...vitLayerRules("blocks", "vit.encoder.layer"),
  ["norm.{*}", "vit.layernorm.{*}"],
  ["decoderEmbed.{*}", "decoder.decoder_embed.{*}"],
  ["maskToken", "decoder.mask_token"],
  ["decoderPos", "decoder.decoder_pos_embed"],
  ...vitLayerRules("decoderBlocks", "decoder.decoder_encoder.layer"),
  ["decoderNorm.{*}", "decoder.decoder_norm.{*}"],
  ["decoderPred.{*}", "decoder.decoder_pred.{*}"],
]);

export interface VitBlockOptions {
  dModel: number;
  nHeads: number;
  hidden: number;
  activation: Activation;
  eps: number;
  qkvBias?: boolean;
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

/** One pre-norm ViT block: x + attn(LN(x)), then + MLP(LN(.)) (bidirectional attention). */
export function vitBlock(o: VitBlockOptions, opts: Pick<BuildOptions, "mixer">, layer: number): Block {
  const { dModel: d, backend, seed, initStd: std } = o;
  const mixer = opts.mixer?.(layer, d) ?? new SelfAttention({ dModel: d, nHeads: o.nHeads, causal: false, qkvBias: o.qkvBias ?? true, outBias: true, initStd: std, seed, backend });
  const mlp = new MLP({ dModel: d, hidden: o.hidden, activation: o.activation, initStd: std, seed, backend });
  return new Block({ mixer, norm1: new LayerNorm(d, { eps: o.eps, backend }), mlp, norm2: new LayerNorm(d, { eps: o.eps, backend }) });
}

export function buildViTMAE(raw: RawConfig, opts: BuildOptions = {}): { model: MaskedAutoencoderViT; info: HFInfo } {
  const c = new HFConfig(raw, "vit_mae");
  const d = c.size("hidden_size");
  const nHeads = c.size("num_attention_heads");
  const L = c.size("num_hidden_layers");
  const inner = c.size("intermediate_size");
  const dd = c.size("decoder_hidden_size", 512);
  const dHeads = c.size("decoder_num_attention_heads", 16);
  const dL = c.size("decoder_num_hidden_layers", 8);
  const dInner = c.size("decoder_intermediate_size", 2048);
  const eps = c.num("layer_norm_eps", 1e-12, { positive: true });
  const image = c.size("image_size", 224);
  const patch = c.size("patch_size", 16);
  const channels = c.size("num_channels", 3);
  const maskRatio = c.num("mask_ratio", 0.75, { min: 0 });
  if (!(maskRatio < 1)) fail("loadModel", `config.json (vit_mae) field 'mask_ratio' must be below 1, got ${maskRatio}`);
  const normPixLoss = c.bool("norm_pix_loss", false);
  const act = checkActivation("loadModel: vit_mae hidden_act", c.str("hidden_act", "gelu"));
  const qkvBias = c.bool("qkv_bias", true);
  const std = c.num("initializer_range", 0.02, { min: 0 });
  c.divisible("hidden_size", d, "num_attention_heads", nHeads);
  c.divisible("decoder_hidden_size", dd, "decoder_num_attention_heads", dHeads);
  c.divisible("image_size", image, "patch_size", patch);
  c.divisible("hidden_size", d, "4 (2-D sin-cos positions)", 4);
  c.divisible("decoder_hidden_size", dd, "4 (2-D sin-cos positions)", 4);
  const N = (image / patch) ** 2;
  const layer = (w: number, h: number) => 4 * w * w + 2 * w * h + h + 9 * w;
  c.checkBudget(
    channels * patch * patch * d + (N + 3) * d + L * layer(d, inner) + d * dd + (N + 4) * dd + dL * layer(dd, dInner) + dd * patch * patch * channels,
    opts.maxParameterBytes,
  );
  const { backend } = opts;
  const seed = initGenerator(opts.seed); // one stream for every layer
  const enc = { dModel: d, nHeads, hidden: inner, activation: act, eps, qkvBias, initStd: std, seed, backend };
  const dec = { dModel: dd, nHeads: dHeads, hidden: dInner, activation: act, eps, qkvBias, initStd: std, seed, backend };
  // A mixer replacement (BuildOptions.mixer) applies to the encoder; the decoder keeps its own.
  return buildParts(
    L + dL,
    (i) => (i < L ? vitBlock(enc, opts, i) : vitBlock(dec, {}, i - L)),
    (blocks) => {
      const model = new MaskedAutoencoderViT({
        imageSize: image,
        patchSize: patch,
        channels,
        dModel: d,
        blocks: blocks.slice(0, L),
        decoderDim: dd,
        decoderBlocks: blocks.slice(L),
        eps,
        maskRatio,
        normPixLoss,
        initStd: std,
        seed,
        backend,
      });
      return { model, info: { modelType: "vit_mae", config: raw, names: VIT_MAE_NAMES } };
    },
  );
}

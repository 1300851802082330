/**
 * Masked autoencoder (MAE; He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners"),
 * as Hugging Face's ViTMAEForPreTraining and facebookresearch/mae `models_mae.py`:
 *   x = patch_embed(images) + pos[1:]                                        [B, N, D]
 *   per-sample random masking: keep = floor(N (1 - ratio)) patches (idsKeep)  [B, keep, D]
 *   encoder: [cls + pos[0]; visible] -> pre-norm ViT blocks -> LayerNorm      [B, 1 + keep, D]
 *   decoder: Linear(D -> Dd); append N - keep mask tokens; unshuffle by
 *            idsRestore; + decoder positions; its own blocks; LayerNorm;
 *            Linear(Dd -> p p C), CLS dropped                                  [B, N, p p C]
 *   loss = maskedPatchLoss(pred, patchify(images), mask, { normPix })         (masked patches only)
 * The encoder never sees a masked patch: they are gathered away before the first block. Positions
 * are MAE's fixed 2-D sin-cos tables (buffers, not trained).
 */
import { maskedPatchLoss, randomMask } from "@tessera/masked";
import {
  add,
  argsort,
  cast,
  concat,
  expand,
  type Generator,
  gather,
  LayerNorm,
  mean,
  Module,
  ModuleList,
  narrow,
  normal,
  permute,
  reshape,
  select,
  tensor,
  tidy,
  unsqueeze,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "../errors";
import { checkRequired } from "./options";
import type { Block } from "../nn/block";
import { Projection } from "../nn/projection";
import { PatchEmbedding } from "./vit";
import { initGenerator } from "../nn/init";

/**
 * [B, C, H, W] -> [B, (H/p)(W/p), p p C] in MAE's layout: patches row-major, each patch's values
 * ordered (row, column, channel), as models_mae.py `patchify` (einsum 'nchpwq->nhwpqc').
 */
export function patchify(images: Tensor, patchSize: number): Tensor {
  const op = "patchify";
  if (images.rank !== 4) fail(op, `images must be [B, C, H, W], got [${images.shape}]`);
  const [B, C, H, W] = images.shape;
  const p = patchSize;
  if (!Number.isInteger(p) || p < 1) fail(op, `patchSize must be a positive integer, got ${p}`);
  if (H % p || W % p) fail(op, `images [${images.shape}]: height ${H} and width ${W} must be multiples of patchSize ${p}`);
  const [gh, gw] = [H / p, W / p];
  return reshape(permute(reshape(images, [B, C, gh, p, gw, p]), [0, 2, 4, 3, 5, 1]), [B, gh * gw, p * p * C]);
}

/** The inverse of patchify: [B, N, p p C] -> [B, C, H, W] (default: a square grid, H = W = p sqrt(N)). */
export function unpatchify(patches: Tensor, patchSize: number, channels: number, size?: { height: number; width: number }): Tensor {
  const op = "unpatchify";
  if (patches.rank !== 3) fail(op, `patches must be [B, N, p*p*C], got [${patches.shape}]`);
  const [B, N, E] = patches.shape;
  const p = patchSize;
  if (E !== p * p * channels) fail(op, `patches [${patches.shape}]: the last axis must be patchSize^2 * channels = ${p * p * channels}`);
  const side = Math.round(Math.sqrt(N));
  const [gh, gw] = size ? [size.height / p, size.width / p] : [side, side];
  if (!Number.isInteger(gh) || !Number.isInteger(gw) || gh * gw !== N) {
    fail(op, `patches [${patches.shape}]: ${N} patches do not tile ${size ? `a ${size.height}x${size.width} image` : "a square image"} with patchSize ${p}`);
  }
  return reshape(permute(reshape(patches, [B, gh, gw, p, p, channels]), [0, 5, 1, 3, 2, 4]), [B, channels, gh * p, gw * p]);
}

/**
 * MAE's fixed 2-D sin-cos position table (models_mae.py / util/pos_embed.py
 * `get_2d_sincos_pos_embed`): for the patch at (h, w), [sin(w f) | cos(w f) | sin(h f) | cos(h f)]
 * with f_k = 10000^(-k / (dim/4)); with `cls`, a zero row first. -> [1, (cls ? 1 : 0) + gh gw, dim]
 */
export function sincosPositions2d(gridHeight: number, gridWidth: number, dim: number, opts: { cls?: boolean; backend?: string } = {}): Tensor {
  if (dim % 4 !== 0) fail("sincosPositions2d", `dim ${dim} must be a multiple of 4`);
  const q = dim / 4;
  const rows = gridHeight * gridWidth + (opts.cls ? 1 : 0);
  const out = new Float32Array(rows * dim);
  let r = opts.cls ? 1 : 0;
  for (let h = 0; h < gridHeight; h++) {
    for (let w = 0; w < gridWidth; w++, r++) {
      for (let k = 0; k < q; k++) {
        const f = 1 / 10000 ** (k / q);
        const o = r * dim;
        out[o + k] = Math.sin(w * f);
        out[o + q + k] = Math.cos(w * f);
        out[o + 2 * q + k] = Math.sin(h * f);
        out[o + 3 * q + k] = Math.cos(h * f);
      }
    }
  }
  return tensor(out, { shape: [1, rows, dim], backend: opts.backend });
}

export interface MaskedAutoencoderOptions {
  imageSize: number;
  patchSize: number;
  channels: number;
  /** Encoder width D. */
  dModel: number;
  /** Encoder blocks (pre-norm, bidirectional, width dModel). */
  blocks: Block[];
  /** Decoder width Dd (MAE: 512 for a 768/1024-wide encoder). */
  decoderDim: number;
  /** Decoder blocks (pre-norm, bidirectional, width decoderDim). */
  decoderBlocks: Block[];
  eps: number;
  /** Default fraction of patches masked in forward (MAE: 0.75). */
  maskRatio?: number;
  /** Per-patch normalised pixel targets (MAE's norm_pix_loss). Default false. */
  normPixLoss?: boolean;
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export interface MaskedAutoencoderForwardOptions {
  /** Fraction of patches masked; default the model's maskRatio. */
  maskRatio?: number;
  /** Seed of the random masking (@tessera/masked randomMask). */
  seed?: number;
  /** [B, N] noise to argsort instead of a seeded draw (Hugging Face's `noise` argument): ascending = kept first. */
  noise?: Tensor;
  /** Also return the encoder's hidden states (embeddings, then each block; before the final norm). */
  hiddenStates?: boolean;
}

export interface MaskedAutoencoderOutput {
  /** maskedPatchLoss over the masked patches (a scalar). */
  loss: Tensor;
  /** [B, N, p p C] reconstructed patches (every patch; the loss looks at the masked ones). */
  pred: Tensor;
  /** The same tensor as `pred`, under Hugging Face's name (ViTMAEForPreTrainingOutput.logits). */
  logits: Tensor;
  /** [B, N] float32, 1 = masked. */
  mask: Tensor;
  /** [B, N] int32: position of each patch in the shuffled order (the unshuffle index). */
  idsRestore: Tensor;
  /** [B, 1 + keep, D]: the encoder output (CLS + visible patches, after the final norm). */
  latent: Tensor;
  hiddenStates?: Tensor[];
}

/** Which patches the encoder keeps: from `randomMask` or from given noise. */
export interface PatchMasking {
  /** [B, keep] int32 */
  idsKeep: Tensor;
  /** [B, N] int32 */
  idsRestore: Tensor;
  /** [B, N] float32, 1 = masked */
  mask: Tensor;
}

export class MaskedAutoencoderViT extends Module {
  readonly cls: Tensor;
  readonly pos: Tensor;
  readonly patch: PatchEmbedding;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly decoderEmbed: Projection;
  readonly maskToken: Tensor;
  readonly decoderPos: Tensor;
  readonly decoderBlocks: ModuleList<Block>;
  readonly decoderNorm: LayerNorm;
  readonly decoderPred: Projection;
  readonly numPatches: number;
  readonly gridSize: number;
  constructor(readonly opts: MaskedAutoencoderOptions) {
    super();
    checkRequired("MaskedAutoencoderViT", opts, { sizes: ["imageSize", "patchSize", "channels", "dModel", "decoderDim"], lists: ["blocks", "decoderBlocks"], positive: ["eps"] });
    const { dModel: d, decoderDim: dd, patchSize: p, channels: C, backend } = opts;
    if (opts.imageSize % p) fail("MaskedAutoencoderViT", `imageSize ${opts.imageSize} is not a multiple of patchSize ${p}`);
    checkRatio("MaskedAutoencoderViT", opts.maskRatio ?? 0.75);
    this.gridSize = opts.imageSize / p;
    this.numPatches = this.gridSize ** 2;
    const gen = initGenerator(opts.seed);
    const std = opts.initStd ?? 0.02;
    this.cls = this.registerParameter("cls", normal([1, 1, d], 0, std, { seed: gen, backend }));
    // Fixed (not trained) sin-cos positions: buffers, saved with the weights.
    this.pos = this.registerBuffer("pos", sincosPositions2d(this.gridSize, this.gridSize, d, { cls: true, backend }));
    this.patch = this.registerModule("patch", new PatchEmbedding(C, p, d, std, gen, backend));
    this.blocks = this.registerModule("blocks", new ModuleList(opts.blocks));
    this.norm = this.registerModule("norm", new LayerNorm(d, { eps: opts.eps, backend }));
    this.decoderEmbed = this.registerModule("decoderEmbed", new Projection(d, dd, { initStd: std, seed: gen, backend }));
    this.maskToken = this.registerParameter("maskToken", normal([1, 1, dd], 0, std, { seed: gen, backend }));
    this.decoderPos = this.registerBuffer("decoderPos", sincosPositions2d(this.gridSize, this.gridSize, dd, { cls: true, backend }));
    this.decoderBlocks = this.registerModule("decoderBlocks", new ModuleList(opts.decoderBlocks));
    this.decoderNorm = this.registerModule("decoderNorm", new LayerNorm(dd, { eps: opts.eps, backend }));
    this.decoderPred = this.registerModule("decoderPred", new Projection(dd, p * p * C, { initStd: std, seed: gen, backend }));
  }

  private checkImages(op: string, images: Tensor): void {
    const { channels: C, imageSize: S } = this.opts;
    if (images.rank !== 4 || images.shape[1] !== C || images.shape[2] !== S || images.shape[3] !== S) {
      fail(op, `images [${images.shape}] must be [B, ${C}, ${S}, ${S}]`);
    }
  }

  /** images [B, C, H, W] -> [B, N, p p C] in MAE's patch layout. */
  patchify(images: Tensor): Tensor {
    return patchify(images, this.opts.patchSize);
  }

  /** [B, N, p p C] -> images [B, C, H, W]. */
  unpatchify(patches: Tensor): Tensor {
    return unpatchify(patches, this.opts.patchSize, this.opts.channels);
  }

  /**
   * The masking for a batch: a seeded draw (randomMask) or Hugging Face's rule on given noise
   * (ids_shuffle = argsort(noise), ids_restore = argsort(ids_shuffle), keep the first
   * floor(N (1 - ratio))).
   */
  masking(batch: number, o: { maskRatio?: number; seed?: number; noise?: Tensor; backend?: string } = {}): PatchMasking {
    const op = "MaskedAutoencoderViT.masking";
    const N = this.numPatches;
    const ratio = checkRatio(op, o.maskRatio ?? this.opts.maskRatio ?? 0.75);
    if (!o.noise) {
      const m = randomMask(batch, N, ratio, { seed: o.seed, backend: o.backend });
      m.idsShuffle.dispose();
      return { idsKeep: m.idsKeep, idsRestore: m.idsRestore, mask: m.mask };
    }
    const noise = o.noise;
    if (noise.rank !== 2 || noise.shape[0] !== batch || noise.shape[1] !== N) fail(op, `noise [${noise.shape}] must be [B, N] = [${batch}, ${N}]`);
    const keep = Math.floor(N * (1 - ratio));
    return tidy(() => {
      const idsShuffle = cast(argsort(noise, 1), "int32"); // [B, N] ascending: kept first
      const idsRestore = cast(argsort(idsShuffle, 1), "int32"); // [B, N] inverse permutation
      const idsKeep = narrow(idsShuffle, 1, 0, keep); // [B, keep]
      // 1 for shuffled positions >= keep, then back in patch order: mask[b, n] = [idsRestore[b, n] >= keep].
      const shuffled = tensor(
        Array.from({ length: N }, (_, j) => (j < keep ? 0 : 1)),
        { backend: noise.backend },
      );
      const mask = gather(expand(reshape(shuffled, [1, N]), [batch, N]), 1, idsRestore);
      return { idsKeep: cast(idsKeep, "int32"), idsRestore, mask };
    });
  }

  /** Patch embeddings plus positions, no CLS: [B, N, D]. */
  private embed(images: Tensor): Tensor {
    return add(this.patch.forward(images), narrow(this.pos, 1, 1, this.numPatches));
  }

  /** [cls + pos0; x] through the encoder blocks and norm. */
  private encodeTokens(x: Tensor, hidden: Tensor[] | null): Tensor {
    const [B, , D] = x.shape;
    const cls = expand(add(this.cls, narrow(this.pos, 1, 0, 1)), [B, 1, D]);
    let h = concat([cls, x], 1); // [B, 1 + T, D]
    hidden?.push(h);
    for (const b of this.blocks) {
      h = b.forward(h).y;
      hidden?.push(h);
    }
    return this.norm.forward(h);
  }

  /**
   * The encoder on the visible patches only: images and a masking -> [B, 1 + keep, D]. Masked
   * patches are gathered away before the first block, so they cannot influence the result.
   */
  encodeVisible(images: Tensor, masking: Pick<PatchMasking, "idsKeep">, hidden: Tensor[] | null = null): Tensor {
    this.checkImages("MaskedAutoencoderViT.encodeVisible", images);
    const ids = masking.idsKeep;
    const B = images.shape[0];
    if (ids.rank !== 2 || ids.shape[0] !== B) fail("MaskedAutoencoderViT.encodeVisible", `idsKeep [${ids.shape}] must be [B = ${B}, keep]`);
    const x = this.embed(images); // [B, N, D]
    const D = this.opts.dModel;
    const visible = gather(x, 1, expand(unsqueeze(ids, -1), [B, ids.shape[1], D])); // [B, keep, D]
    return this.encodeTokens(visible, hidden);
  }

  /** The decoder: latent [B, 1 + keep, D] and idsRestore [B, N] -> predicted patches [B, N, p p C]. */
  decode(latent: Tensor, idsRestore: Tensor): Tensor {
    const op = "MaskedAutoencoderViT.decode";
    const N = this.numPatches;
    if (latent.rank !== 3 || latent.shape[2] !== this.opts.dModel) fail(op, `latent [${latent.shape}] must be [B, 1 + keep, ${this.opts.dModel}]`);
    const [B, T] = latent.shape;
    if (idsRestore.rank !== 2 || idsRestore.shape[0] !== B || idsRestore.shape[1] !== N) fail(op, `idsRestore [${idsRestore.shape}] must be [B, N] = [${B}, ${N}]`);
    if (T - 1 > N || T < 1) fail(op, `latent [${latent.shape}] holds ${T - 1} visible patches; at most ${N}`);
    const dd = this.opts.decoderDim;
    const y = this.decoderEmbed.forward(latent); // [B, 1 + keep, Dd]
    const masks = expand(this.maskToken, [B, N - (T - 1), dd]); // [B, N - keep, Dd]
    const shuffled = concat([narrow(y, 1, 1, T - 1), masks], 1); // [B, N, Dd] in shuffled order
    const restored = gather(shuffled, 1, expand(unsqueeze(idsRestore, -1), [B, N, dd])); // [B, N, Dd] patch order
    let h = add(concat([narrow(y, 1, 0, 1), restored], 1), this.decoderPos); // [B, 1 + N, Dd]
    for (const b of this.decoderBlocks) h = b.forward(h).y;
    return narrow(this.decoderPred.forward(this.decoderNorm.forward(h)), 1, 1, N); // [B, N, p p C]
  }

  /** images [B, C, H, W] -> { loss, pred [B, N, p p C], mask [B, N], idsRestore, latent }. */
  forward(images: Tensor, o: MaskedAutoencoderForwardOptions = {}): MaskedAutoencoderOutput {
    this.checkImages("MaskedAutoencoderViT.forward", images);
    const B = images.shape[0];
    const m = this.masking(B, { ...o, backend: images.backend });
    const hidden = o.hiddenStates ? [] : null;
    const latent = this.encodeVisible(images, m, hidden);
    const pred = this.decode(latent, m.idsRestore);
    const loss = tidy(() => maskedPatchLoss(pred, this.patchify(images), m.mask, { normPix: this.opts.normPixLoss ?? false }));
    m.idsKeep.dispose();
    const out: MaskedAutoencoderOutput = { loss, pred, logits: pred, mask: m.mask, idsRestore: m.idsRestore, latent };
    if (hidden) out.hiddenStates = hidden;
    return out;
  }

  /**
   * Features for a linear probe (MAE §4): the encoder on all patches, no masking. pool 'cls'
   * (default: the CLS token), 'mean' (mean of the patch tokens) -> [B, D]; 'none' -> [B, 1 + N, D].
   */
  encode(images: Tensor, o: { pool?: "cls" | "mean" | "none" } = {}): Tensor {
    this.checkImages("MaskedAutoencoderViT.encode", images);
    const pool = o.pool ?? "cls";
    if (pool !== "cls" && pool !== "mean" && pool !== "none") fail("MaskedAutoencoderViT.encode", `pool must be 'cls', 'mean' or 'none', got '${String(pool)}'`);
    return tidy(() => {
      const h = this.encodeTokens(this.embed(images), null); // [B, 1 + N, D]
      if (pool === "none") return h;
      if (pool === "cls") return select(h, 1, 0);
      return mean(narrow(h, 1, 1, this.numPatches), 1);
    });
  }
}

function checkRatio(op: string, r: number): number {
  if (typeof r !== "number" || !(r >= 0 && r < 1)) fail(op, `maskRatio must be in [0, 1), got ${r}`);
  return r;
}

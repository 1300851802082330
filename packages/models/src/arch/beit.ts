/**
 * BEiT masked image modelling (Bao et al. 2022, "BEiT: BERT Pre-Training of Image Transformers"),
 * as Hugging Face's BeitForMaskedImageModeling, on the ViT encoder:
 *   x = patch_embed(images)                                                  [B, N, D]
 *   x_n = mask_token where mask[b, n] (block-wise mask, §2.5)                 [B, N, D]
 *   h_0 = [cls; x] (+ absolute positions when configured)                    [B, 1 + N, D]
 *   h_{l+1} = h + lambda_2 * MLP(LN(h)),  h = h_l + lambda_1 * Attn(LN(h_l)) (LayerScale,
 *             Touvron et al. 2021 "Going deeper with image transformers"; lambdas optional)
 *   attention logits + relative position bias (shared and/or per layer, §2.2) when configured
 *   logits = lm_head(LN(LN_enc(h_L))[:, 1:])                                 [B, N, V]
 *   loss = maskedTokenLoss(logits, codes, mask)                             (masked positions only)
 * V is the visual tokenizer's vocabulary (DALL-E's 8192 in the paper; any VQ tokenizer's codes).
 */
import { blockwiseMask, maskedTokenLoss } from "@tessera/masked";
import {
  add,
  cast,
  concat,
  embedding,
  expand,
  type Generator,
  LayerNorm,
  Module,
  ModuleList,
  mul,
  narrow,
  normal,
  permute,
  reshape,
  sub,
  tensor,
  unsqueeze,
  zeros,
  full,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "../errors";
import { checkRequired } from "./options";
import type { Layer, MixerModule } from "../nn/block";
import { Projection } from "../nn/projection";
import { PatchEmbedding } from "./vit";
import { initGenerator } from "../nn/init";

/**
 * BEiT's relative position bias (§2.2; HF BeitRelativePositionBias): a learned table of
 * (2 Wh - 1)(2 Ww - 1) + 3 rows per head, indexed by the (dy, dx) offset between two patches,
 * with three extra rows for cls -> token, token -> cls and cls -> cls. -> bias [1, H, 1 + N, 1 + N]
 */
export class RelativePositionBias extends Module {
  readonly table: Tensor;
  private readonly index: Int32Array;
  readonly tokens: number;
  constructor(
    readonly gridHeight: number,
    readonly gridWidth: number,
    readonly nHeads: number,
    opts: { backend?: string } = {},
  ) {
    super();
    const [wh, ww] = [gridHeight, gridWidth];
    const rows = (2 * wh - 1) * (2 * ww - 1) + 3;
    this.table = this.registerParameter("table", zeros([rows, nHeads], { backend: opts.backend }));
    const N = wh * ww;
    this.tokens = N + 1;
    const idx = new Int32Array(this.tokens * this.tokens);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const dy = Math.floor(i / ww) - Math.floor(j / ww) + wh - 1;
        const dx = (i % ww) - (j % ww) + ww - 1;
        idx[(i + 1) * this.tokens + (j + 1)] = dy * (2 * ww - 1) + dx;
      }
    }
    for (let j = 1; j < this.tokens; j++) idx[j] = rows - 3; // cls -> token
    for (let i = 1; i < this.tokens; i++) idx[i * this.tokens] = rows - 2; // token -> cls
    idx[0] = rows - 1; // cls -> cls
    this.index = idx;
  }

  /** -> [1, H, 1 + N, 1 + N] */
  forward(): Tensor {
    const T = this.tokens;
    const ids = tensor(this.index, { shape: [T, T], dtype: "int32", backend: this.table.backend });
    return unsqueeze(permute(embedding(this.table, ids), [2, 0, 1]), 0); // [T, T, H] -> [1, H, T, T]
  }
}

export interface BeitBlockParts {
  mixer: MixerModule;
  norm1: Layer;
  mlp: Layer;
  norm2: Layer;
  /** LayerScale's initial value (HF layer_scale_init_value); 0 or undefined for none. */
  layerScale?: number;
  /** This block's own relative position bias (HF use_relative_position_bias). */
  relativeBias?: RelativePositionBias | null;
  backend?: string;
}

/** BEiT's pre-norm block with optional LayerScale and relative position bias. */
export class BeitBlock extends Module {
  readonly mixer: MixerModule;
  readonly norm1: Layer;
  readonly mlp: Layer;
  readonly norm2: Layer;
  readonly lambda1: Tensor | null;
  readonly lambda2: Tensor | null;
  readonly relativeBias: RelativePositionBias | null;
  constructor(parts: BeitBlockParts) {
    super();
    this.norm1 = this.registerModule("norm1", parts.norm1);
    this.mixer = this.registerModule("mixer", parts.mixer);
    this.relativeBias = parts.relativeBias ? this.registerModule("relativeBias", parts.relativeBias) : null;
    this.norm2 = this.registerModule("norm2", parts.norm2);
    this.mlp = this.registerModule("mlp", parts.mlp);
    const s = parts.layerScale ?? 0;
    const d = (parts.norm1 as Module & { weight?: Tensor }).weight?.shape[0];
    if (s > 0 && !d) fail("BeitBlock", "LayerScale needs norm1 with a weight [D] to size lambda_1 and lambda_2");
    this.lambda1 = s > 0 ? this.registerParameter("lambda1", full([d!], s, { backend: parts.backend })) : null;
    this.lambda2 = s > 0 ? this.registerParameter("lambda2", full([d!], s, { backend: parts.backend })) : null;
  }

  /** x [B, T, D] -> [B, T, D]; `shared` is the model-wide relative bias [1, H, T, T] (or null). */
  forward(x: Tensor, shared: Tensor | null = null): Tensor {
    const own = this.relativeBias ? this.relativeBias.forward() : null;
    const bias = own && shared ? add(own, shared) : (own ?? shared);
    const a = this.mixer.forward(this.norm1.forward(x), undefined, { bias }).y;
    const h = add(x, this.lambda1 ? mul(a, this.lambda1) : a);
    const m = this.mlp.forward(this.norm2.forward(h));
    return add(h, this.lambda2 ? mul(m, this.lambda2) : m);
  }
}

export interface BeitOptions {
  imageSize: number;
  patchSize: number;
  channels: number;
  dModel: number;
  /** The visual tokenizer's vocabulary size V. */
  vocabSize: number;
  blocks: BeitBlock[];
  eps: number;
  /** Learned absolute positions added after the CLS token (HF use_absolute_position_embeddings). */
  absolutePositions?: boolean;
  /** One relative position bias shared by all blocks (HF use_shared_relative_position_bias). */
  sharedRelativeBias?: boolean;
  nHeads?: number;
  /** A LayerNorm after the encoder (HF: when use_mean_pooling is false). Default true. */
  encoderNorm?: boolean;
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export interface BeitForwardOptions {
  /** [B, N] (or [B, Gh, Gw]): 1 / true = masked, replaced by the mask token. */
  mask?: Tensor;
  /** Without `mask`: draw BEiT block-wise masks of this many patches per image (@tessera/masked blockwiseMask). */
  numMasked?: number;
  /** Smallest block drawn (BEiT's min_mask_patches_per_block, 16); default min(16, numMasked). */
  minPatches?: number;
  /** Seed of the drawn masks. */
  seed?: number;
  /** [B, N] the tokenizer's codes: with them the output has maskedTokenLoss over the masked patches. */
  codes?: Tensor;
  hiddenStates?: boolean;
}

export class BeitForMaskedImageModeling extends Module {
  readonly cls: Tensor;
  readonly maskToken: Tensor;
  readonly pos: Tensor | null;
  readonly patch: PatchEmbedding;
  readonly sharedBias: RelativePositionBias | null;
  readonly blocks: ModuleList<BeitBlock>;
  readonly encoderNorm: LayerNorm | null;
  readonly norm: LayerNorm;
  readonly head: Projection;
  readonly numPatches: number;
  readonly gridSize: number;
  constructor(readonly opts: BeitOptions) {
    super();
    checkRequired("BeitForMaskedImageModeling", opts, { sizes: ["imageSize", "patchSize", "channels", "dModel", "vocabSize"], lists: ["blocks"], positive: ["eps"] });
    const { dModel: d, backend } = opts;
    if (opts.imageSize % opts.patchSize) fail("BeitForMaskedImageModeling", `imageSize ${opts.imageSize} is not a multiple of patchSize ${opts.patchSize}`);
    this.gridSize = opts.imageSize / opts.patchSize;
    this.numPatches = this.gridSize ** 2;
    const gen = initGenerator(opts.seed);
    const std = opts.initStd ?? 0.02;
    this.cls = this.registerParameter("cls", normal([1, 1, d], 0, std, { seed: gen, backend }));
    this.maskToken = this.registerParameter("maskToken", normal([1, 1, d], 0, std, { seed: gen, backend }));
    this.pos = opts.absolutePositions ? this.registerParameter("pos", normal([1, this.numPatches + 1, d], 0, std, { seed: gen, backend })) : null;
    this.patch = this.registerModule("patch", new PatchEmbedding(opts.channels, opts.patchSize, d, std, gen, backend));
    if (opts.sharedRelativeBias && !opts.nHeads) fail("BeitForMaskedImageModeling", "sharedRelativeBias needs nHeads");
    this.sharedBias = opts.sharedRelativeBias ? this.registerModule("sharedBias", new RelativePositionBias(this.gridSize, this.gridSize, opts.nHeads!, { backend })) : null;
    this.blocks = this.registerModule("blocks", new ModuleList(opts.blocks));
    this.encoderNorm = opts.encoderNorm === false ? null : this.registerModule("encoderNorm", new LayerNorm(d, { eps: opts.eps, backend }));
    this.norm = this.registerModule("norm", new LayerNorm(d, { eps: opts.eps, backend }));
    this.head = this.registerModule("head", new Projection(d, opts.vocabSize, { initStd: std, seed: gen, backend }));
  }

  /** The mask as float [B, N] from a given one ([B, N] or [B, Gh, Gw]) or a block-wise draw. */
  private maskFor(op: string, B: number, o: BeitForwardOptions, backend: string): Tensor {
    const N = this.numPatches;
    if (o.mask) {
      const m = o.mask;
      const ok = (m.rank === 2 && m.shape[0] === B && m.shape[1] === N) || (m.rank === 3 && m.shape[0] === B && m.shape[1] * m.shape[2] === N && m.shape[1] === this.gridSize);
      if (!ok) fail(op, `mask [${m.shape}] must be [B, N] = [${B}, ${N}] (or [B, ${this.gridSize}, ${this.gridSize}])`);
      return reshape(cast(m, "float32"), [B, N]);
    }
    const numMasked = o.numMasked ?? Math.round(0.4 * N);
    const minPatches = o.minPatches ?? Math.min(16, numMasked);
    return reshape(blockwiseMask(this.gridSize, this.gridSize, { numMasked, minPatches, batch: B, seed: o.seed, backend }), [B, N]);
  }

  /** images [B, C, H, W] -> logits [B, N, V] over the tokenizer's codes (and the loss with `codes`). */
  forward(images: Tensor, o: BeitForwardOptions = {}): { logits: Tensor; mask: Tensor; loss?: Tensor; hiddenStates?: Tensor[] } {
    const op = "BeitForMaskedImageModeling.forward";
    const { channels: C, imageSize: S, dModel: d } = this.opts;
    if (images.rank !== 4 || images.shape[1] !== C || images.shape[2] !== S || images.shape[3] !== S) fail(op, `images [${images.shape}] must be [B, ${C}, ${S}, ${S}]`);
    const B = images.shape[0];
    const N = this.numPatches;
    if (o.codes && (o.codes.rank !== 2 || o.codes.shape[0] !== B || o.codes.shape[1] !== N)) fail(op, `codes [${o.codes.shape}] must be [B, N] = [${B}, ${N}]`);
    const mask = this.maskFor(op, B, o, images.backend); // [B, N] 1 = masked
    const x = this.patch.forward(images); // [B, N, D]
    const m = unsqueeze(mask, -1); // [B, N, 1]
    const mixed = add(mul(x, sub(1, m)), mul(expand(this.maskToken, [B, N, d]), m)); // mask tokens at masked patches
    let h = concat([expand(this.cls, [B, 1, d]), mixed], 1); // [B, 1 + N, D]
    if (this.pos) h = add(h, this.pos);
    const shared = this.sharedBias ? this.sharedBias.forward() : null;
    const hidden = o.hiddenStates ? [h] : [];
    for (const b of this.blocks) {
      h = b.forward(h, shared);
      if (o.hiddenStates) hidden.push(h);
    }
    if (this.encoderNorm) h = this.encoderNorm.forward(h);
    const logits = this.head.forward(narrow(this.norm.forward(h), 1, 1, N)); // [B, N, V]
    const out: { logits: Tensor; mask: Tensor; loss?: Tensor; hiddenStates?: Tensor[] } = { logits, mask };
    if (o.codes) out.loss = maskedTokenLoss(logits, o.codes, mask);
    if (o.hiddenStates) out.hiddenStates = hidden;
    return out;
  }
}

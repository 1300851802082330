/**
 * VQTokenizer: a convolutional VQ-VAE image tokenizer (van den Oord et al. 2017, "Neural
 * Discrete Representation Learning"), laid out as a small VQGAN encoder/decoder (Esser et al.
 * 2021, taming-transformers, without the GAN and perceptual losses):
 *   encoder   per halving: conv4x4 stride 2 -> ConvResBlocks; then silu(groupNorm) -> conv1x1
 *             [B, C, H, W] -> z_e [B, D, H/f, W/f]          (f = downsample, 4 or 8)
 *   quantizer @tessera/codebook's VectorQuantizer on [B, h, w, D] (EMA codebook, k-means init on
 *             the first training batch, dead-code restart; rotation-trick gradients)
 *   decoder   conv3x3 -> per doubling: ConvResBlocks -> silu(groupNorm) -> x2 upsampling (a
 *             transposed conv4x4 stride 2, or nearest + conv3x3 as VQGAN's Upsample)
 *             z_q [B, D, h, w] -> [B, C, H, W]
 *   loss = mse(reconstruction, images) + beta mse(z_e, sg[z_q])   (beta = 0.25, VQ-VAE §3.2;
 *          the codebook term is replaced by the EMA update, VQ-VAE Appendix A.1)
 */
import { VectorQuantizer, type VectorQuantizerOptions } from "@tessera/codebook";
import { add, Conv2d, ConvTranspose2d, Generator, GroupNorm, Module, ModuleList, mseLoss, permute, silu, tidy, upsample, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import { ConvResBlock } from "../nn/res-block";

export type VQQuantizerOptions = Omit<VectorQuantizerOptions, "dim" | "codebookSize" | "commitmentWeight" | "seed" | "backend">;

export interface VQTokenizerOptions {
  /** Image side (square) or [height, width]; each must be a multiple of `downsample`. */
  imageSize: number | readonly [number, number];
  /** Image channels. Default 1. */
  channels?: number;
  /** Spatial reduction of the code grid: 4 (two halvings) or 8 (three). Default 4. */
  downsample?: 4 | 8;
  /** Width of each resolution, one per halving. Default [32, 64] (downsample 4), [32, 64, 64] (8). */
  widths?: readonly number[];
  /** ConvResBlocks per resolution, in the encoder and in the decoder. Default 1. */
  resBlocks?: number;
  /** GroupNorm groups (divides every width). Default 8. */
  groups?: number;
  /** Code vectors' width D. Default 16. */
  latentDim?: number;
  /** Codes K. Default 128. */
  codebookSize?: number;
  /** Commitment weight beta. Default 0.25 (VQ-VAE). */
  commitmentWeight?: number;
  /** Decoder upsampling: "transpose" (ConvTranspose2d 4x4 stride 2, default) or "nearest" (nearest x2 + conv3x3). */
  upsampling?: "transpose" | "nearest";
  /** VectorQuantizer options. Defaults here: EMA decay 0.9, k-means init, dead-code threshold 1. */
  quantizer?: VQQuantizerOptions;
  seed?: number;
  backend?: string;
}

export interface VQTokenizerOutput {
  /** [B, C, H, W] */
  reconstruction: Tensor;
  /** [B, h, w] int32 */
  codes: Tensor;
  /** Scalar: reconstructionLoss + commitmentLoss (what to differentiate). */
  loss: Tensor;
  /** Scalar mse(reconstruction, images). */
  reconstructionLoss: Tensor;
  /** Scalar beta mse(z_e, sg[z_q]). */
  commitmentLoss: Tensor;
  /** Share of the codebook used by this batch (null on backends that read asynchronously: webgpu). */
  usage: number | null;
  /** exp(entropy) of this batch's code histogram (null as usage). */
  perplexity: number | null;
}

type Init = { seed: Generator; backend?: string };

/** [B, C, H, W] -> [B, D, H/f, W/f] */
class VQEncoder extends Module {
  readonly down: ModuleList<Conv2d>;
  readonly blocks: ModuleList<ConvResBlock>;
  readonly normOut: GroupNorm;
  readonly convOut: Conv2d;
  constructor(channels: number, widths: readonly number[], resBlocks: number, groups: number, latentDim: number, o: Init) {
    super();
    const down: Conv2d[] = [];
    const blocks: ConvResBlock[] = [];
    widths.forEach((w, i) => {
      down.push(new Conv2d(i === 0 ? channels : widths[i - 1], w, 4, { stride: 2, padding: 1, ...o }));
      for (let r = 0; r < resBlocks; r++) blocks.push(new ConvResBlock(w, w, { groups, ...o }));
    });
    this.down = this.registerModule("down", new ModuleList(down));
    this.blocks = this.registerModule("blocks", new ModuleList(blocks));
    const last = widths[widths.length - 1];
    this.normOut = this.registerModule("normOut", new GroupNorm(groups, last, { backend: o.backend }));
    this.convOut = this.registerModule("convOut", new Conv2d(last, latentDim, 1, o));
  }

  forward(x: Tensor): Tensor {
    const per = this.blocks.length / this.down.length;
    let h = x;
    [...this.down].forEach((conv, i) => {
      h = conv.forward(h); // halves H and W
      for (let r = 0; r < per; r++) h = this.blocks.at(i * per + r).forward(h);
    });
    return this.convOut.forward(silu(this.normOut.forward(h)));
  }
}

/** [B, D, h, w] -> [B, C, h f, w f] */
class VQDecoder extends Module {
  readonly convIn: Conv2d;
  readonly blocks: ModuleList<ConvResBlock>;
  readonly norms: ModuleList<GroupNorm>;
  readonly up: ModuleList<Conv2d | ConvTranspose2d>;
  constructor(
    channels: number,
    widths: readonly number[],
    resBlocks: number,
    groups: number,
    latentDim: number,
    readonly upsampling: "transpose" | "nearest",
    o: Init,
  ) {
    super();
    const S = widths.length;
    this.convIn = this.registerModule("convIn", new Conv2d(latentDim, widths[S - 1], 3, { padding: 1, ...o }));
    const blocks: ConvResBlock[] = [];
    const norms: GroupNorm[] = [];
    const up: (Conv2d | ConvTranspose2d)[] = [];
    for (let i = S - 1; i >= 0; i--) {
      const w = widths[i];
      const next = i > 0 ? widths[i - 1] : channels;
      for (let r = 0; r < resBlocks; r++) blocks.push(new ConvResBlock(w, w, { groups, ...o }));
      norms.push(new GroupNorm(groups, w, { backend: o.backend }));
      up.push(upsampling === "transpose" ? new ConvTranspose2d(w, next, 4, { stride: 2, padding: 1, ...o }) : new Conv2d(w, next, 3, { padding: 1, ...o }));
    }
    this.blocks = this.registerModule("blocks", new ModuleList(blocks));
    this.norms = this.registerModule("norms", new ModuleList(norms));
    this.up = this.registerModule("up", new ModuleList(up));
  }

  forward(z: Tensor): Tensor {
    const per = this.blocks.length / this.up.length;
    let h = this.convIn.forward(z);
    [...this.up].forEach((conv, i) => {
      for (let r = 0; r < per; r++) h = this.blocks.at(i * per + r).forward(h);
      h = silu(this.norms.at(i).forward(h));
      // Doubles H and W: (h - 1) 2 - 2 + 4 = 2 h for the transposed conv.
      h = this.upsampling === "transpose" ? conv.forward(h) : conv.forward(upsample(h, { scaleFactor: 2, mode: "nearest" }));
    });
    return h;
  }
}

export class VQTokenizer extends Module {
  readonly encoder: VQEncoder;
  readonly quantizer: VectorQuantizer;
  readonly decoder: VQDecoder;
  readonly channels: number;
  readonly imageHeight: number;
  readonly imageWidth: number;
  readonly downsample: 4 | 8;
  readonly latentDim: number;
  readonly codebookSize: number;
  /** The code grid [h, w] = [H / f, W / f]. */
  readonly gridSize: [number, number];
  constructor(opts: VQTokenizerOptions) {
    super();
    const op = "VQTokenizer";
    if (!opts || typeof opts !== "object") fail(op, "options { imageSize } are required");
    const [H, W] = typeof opts.imageSize === "number" ? [opts.imageSize, opts.imageSize] : (opts.imageSize ?? []);
    const f = opts.downsample ?? 4;
    if (f !== 4 && f !== 8) fail(op, `downsample must be 4 or 8, got ${String(opts.downsample)}`);
    for (const [name, v] of [
      ["imageSize height", H],
      ["imageSize width", W],
    ] as const) {
      if (!Number.isInteger(v) || v < f || v % f !== 0) fail(op, `${name} ${String(v)} must be a positive multiple of downsample ${f}`);
    }
    const posInt = (name: string, v: number): number => {
      if (!Number.isInteger(v) || v < 1) fail(op, `${name} must be a positive integer, got ${String(v)}`);
      return v;
    };
    const C = posInt("channels", opts.channels ?? 1);
    const stages = Math.log2(f);
    const widths = opts.widths ?? (f === 4 ? [32, 64] : [32, 64, 64]);
    if (widths.length !== stages) fail(op, `widths [${widths.join(", ")}] must have one entry per halving: ${stages} for downsample ${f}`);
    const groups = posInt("groups", opts.groups ?? 8);
    widths.forEach((w, i) => {
      if (!Number.isInteger(w) || w < 1 || w % groups !== 0) fail(op, `widths[${i}] = ${w} must be a positive multiple of groups ${groups}`);
    });
    const resBlocks = opts.resBlocks ?? 1;
    if (!Number.isInteger(resBlocks) || resBlocks < 0) fail(op, `resBlocks must be a non-negative integer, got ${String(resBlocks)}`);
    const D = posInt("latentDim", opts.latentDim ?? 16);
    const K = posInt("codebookSize", opts.codebookSize ?? 128);
    const upsampling = opts.upsampling ?? "transpose";
    if (upsampling !== "transpose" && upsampling !== "nearest") fail(op, `upsampling must be "transpose" or "nearest", got ${String(upsampling)}`);
    const seed = opts.seed ?? 0;
    const o: Init = { seed: new Generator(seed), backend: opts.backend };

    this.channels = C;
    [this.imageHeight, this.imageWidth] = [H, W];
    this.downsample = f;
    this.latentDim = D;
    this.codebookSize = K;
    this.gridSize = [H / f, W / f];
    this.encoder = this.registerModule("encoder", new VQEncoder(C, widths, resBlocks, groups, D, o));
    this.quantizer = this.registerModule(
      "quantizer",
      new VectorQuantizer({
        decay: 0.9,
        kmeansInit: true,
        deadCodeThreshold: 1,
        ...opts.quantizer,
        dim: D,
        codebookSize: K,
        commitmentWeight: opts.commitmentWeight ?? 0.25,
        seed: seed + 1,
        backend: opts.backend,
      }),
    );
    this.decoder = this.registerModule("decoder", new VQDecoder(C, widths, resBlocks, groups, D, upsampling, o));
  }

  private checkImages(op: string, images: Tensor): void {
    const { channels: C, imageHeight: H, imageWidth: W } = this;
    if (!images || typeof images !== "object" || !("shape" in images)) fail(op, `images must be a tensor [B, ${C}, ${H}, ${W}]`);
    if (images.rank !== 4 || images.shape[1] !== C || images.shape[2] !== H || images.shape[3] !== W) fail(op, `images [${images.shape}] must be [B, ${C}, ${H}, ${W}]`);
    if (images.dtype !== "float32") fail(op, `images must be float32, got ${images.dtype} [${images.shape}]`);
  }

  /** The encoder's continuous latents z_e [B, D, h, w]. */
  encodeLatents(images: Tensor): Tensor {
    this.checkImages("VQTokenizer.encodeLatents", images);
    return tidy(() => this.encoder.forward(images));
  }

  /**
   * images [B, C, H, W] -> reconstruction, codes [B, h, w] and the losses. In training mode the
   * codebook learns (EMA, k-means init on the first batch, dead-code restart) as a side effect.
   */
  forward(images: Tensor): VQTokenizerOutput {
    this.checkImages("VQTokenizer.forward", images);
    const q = this.quantizer;
    const latents = images.shape[0] * this.gridSize[0] * this.gridSize[1];
    if (q.training && !q.initted && latents < this.codebookSize) {
      fail(
        "VQTokenizer.forward",
        `the first training batch [${images.shape}] gives ${latents} latents, but k-means initialisation of ${this.codebookSize} codes needs at least that many: train on a larger first batch or pass quantizer: { kmeansInit: false }`,
      );
    }
    return tidy(() => {
      const ze = permute(this.encoder.forward(images), [0, 2, 3, 1]); // [B, h, w, D]
      const q = this.quantizer.forward(ze);
      const reconstruction = this.decoder.forward(permute(q.quantized, [0, 3, 1, 2])); // [B, C, H, W]
      const reconstructionLoss = mseLoss(reconstruction, images);
      return {
        reconstruction,
        codes: q.indices, // [B, h, w]
        loss: add(reconstructionLoss, q.loss),
        reconstructionLoss,
        commitmentLoss: q.loss,
        usage: q.stats?.usage ?? null,
        perplexity: q.stats?.perplexity ?? null,
      };
    });
  }

  /** images [B, C, H, W] -> codes [B, h, w] int32 (nearest codes; the codebook does not change). */
  encode(images: Tensor): Tensor {
    this.checkImages("VQTokenizer.encode", images);
    const wasTraining = this.quantizer.training;
    this.quantizer.eval();
    try {
      return tidy(() => this.quantizer.forward(permute(this.encoder.forward(images), [0, 2, 3, 1])).indices); // [B, h, w, D] -> [B, h, w]
    } finally {
      this.quantizer.train(wasTraining);
    }
  }

  /** codes [B, h, w] (int32, each in [0, codebookSize)) -> images [B, C, H, W]. */
  decode(codes: Tensor): Tensor {
    const op = "VQTokenizer.decode";
    const [h, w] = this.gridSize;
    if (!codes || typeof codes !== "object" || !("shape" in codes)) fail(op, `codes must be an int32 tensor [B, ${h}, ${w}]`);
    if (codes.rank !== 3 || codes.shape[1] !== h || codes.shape[2] !== w) fail(op, `codes [${codes.shape}] must be [B, ${h}, ${w}]`);
    if (codes.dtype !== "int32") fail(op, `codes must be int32, got ${codes.dtype} [${codes.shape}]`);
    // [B, h, w] -> [B, h, w, D] -> [B, D, h, w] -> [B, C, H, W]; ids outside the codebook throw.
    return tidy(() => this.decoder.forward(permute(this.quantizer.codesFromIndices(codes), [0, 3, 1, 2])));
  }
}

/**
 * ViT (Dosovitskiy et al. 2021) for image classification, as Hugging Face's
 * ViTForImageClassification:
 *   patches: [B, C, H, W] -> [B, N, C p p] (N = HW / p^2), x W_patch^T + b   [B, N, D]
 *   h_0 = [cls; patches] + pos                                               [B, N + 1, D]
 *   h_{l+1} = pre-norm block_l(h_l), bidirectional attention
 *   logits = classifier(LayerNorm(h_L)[:, 0])                                 [B, labels]
 * The patch projection keeps the Conv2d weight layout [D, C, p, p] (stride = kernel = p, so
 * the convolution is this reshape and one matmul).
 */
import { add, concat, expand, type Generator, LayerNorm, linear, Module, ModuleList, normal, permute, reshape, select, zeros, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import type { Block } from "../nn/block";
import { Projection } from "../nn/projection";
import { initGenerator } from "../nn/init";

export interface ViTOptions {
  imageSize: number;
  patchSize: number;
  channels: number;
  dModel: number;
  numLabels: number;
  blocks: Block[];
  eps: number;
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export class ViTForImageClassification extends Module {
  readonly cls: Tensor;
  readonly pos: Tensor;
  readonly patch: PatchEmbedding;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly classifier: Projection;
  readonly numPatches: number;
  constructor(readonly opts: ViTOptions) {
    super();
    const { dModel: d, backend } = opts;
    if (opts.imageSize % opts.patchSize) fail("ViT", `image_size ${opts.imageSize} is not a multiple of patch_size ${opts.patchSize}`);
    this.numPatches = (opts.imageSize / opts.patchSize) ** 2;
    const gen = initGenerator(opts.seed);
    const std = opts.initStd ?? 0.02;
    this.cls = this.registerParameter("cls", normal([1, 1, d], 0, std, { seed: gen, backend }));
    this.pos = this.registerParameter("pos", normal([1, this.numPatches + 1, d], 0, std, { seed: gen, backend }));
    this.patch = this.registerModule("patch", new PatchEmbedding(opts.channels, opts.patchSize, d, std, gen, backend));
    this.blocks = this.registerModule("blocks", new ModuleList(opts.blocks));
    this.norm = this.registerModule("norm", new LayerNorm(d, { eps: opts.eps, backend }));
    this.classifier = this.registerModule("classifier", new Projection(d, opts.numLabels, { initStd: std, seed: gen, backend }));
  }

  /** pixels [B, C, H, W] -> logits [B, numLabels] */
  forward(pixels: Tensor, o: { hiddenStates?: boolean } = {}): { logits: Tensor; hiddenStates?: Tensor[] } {
    const { channels: C, imageSize: S } = this.opts;
    if (pixels.rank !== 4 || pixels.shape[1] !== C || pixels.shape[2] !== S || pixels.shape[3] !== S) {
      fail("ViTForImageClassification.forward", `pixel_values [${pixels.shape}] must be [B, ${C}, ${S}, ${S}]`);
    }
    const B = pixels.shape[0];
    const x = this.patch.forward(pixels); // [B, N, D]
    let h = add(concat([expand(this.cls, [B, 1, this.opts.dModel]), x], 1), this.pos); // [B, N + 1, D]
    const hidden = o.hiddenStates ? [h] : [];
    for (const b of this.blocks) {
      h = b.forward(h).y;
      if (o.hiddenStates) hidden.push(h);
    }
    const logits = this.classifier.forward(select(this.norm.forward(h), 1, 0));
    return o.hiddenStates ? { logits, hiddenStates: hidden } : { logits };
  }
}

/** Conv2d(C, D, kernel p, stride p) on non-overlapping patches. */
export class PatchEmbedding extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly channels: number,
    readonly patchSize: number,
    readonly dModel: number,
    std: number,
    gen: Generator | undefined,
    backend?: string,
  ) {
    super();
    this.weight = this.registerParameter("weight", normal([dModel, channels, patchSize, patchSize], 0, std, { seed: gen, backend }));
    this.bias = this.registerParameter("bias", zeros([dModel], { backend }));
  }

  /** [B, C, H, W] -> [B, (H/p)(W/p), D], patches in row-major order as Conv2d + flatten(2). */
  forward(pixels: Tensor): Tensor {
    const [B, C, H, W] = pixels.shape;
    const p = this.patchSize;
    const [gh, gw] = [H / p, W / p];
    const patches = reshape(permute(reshape(pixels, [B, C, gh, p, gw, p]), [0, 2, 4, 1, 3, 5]), [B, gh * gw, C * p * p]);
    return linear(patches, reshape(this.weight, [this.dModel, C * p * p]), this.bias);
  }
}

/**
 * Vision layers with PyTorch's names, parameter layouts and default initializations:
 * Conv2d, ConvTranspose2d, GroupNorm, BatchNorm2d (buffers running_mean, running_var,
 * num_batches_tracked, as torchvision / Hugging Face checkpoints store them).
 */
import { fail, fmtShape } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { ones, zeros } from "../ops/creation";
import { add, reciprocal } from "../ops/elementwise";
import { cast } from "../ops/convert";
import { assign } from "../ops/inplace";
import { tidy } from "../core/engine";
import { batchNormImpl, conv2d, convTranspose2d, groupNorm, type Conv2dOptions, type ConvTranspose2dOptions, type Size2 } from "../ops/vision";
import { Generator, uniform } from "../random/random";
import type { InitOptions } from "./layers";
import { Module } from "./module";

const pair = (v: Size2): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

function checkChannels(layer: string, inC: number, outC: number, groups: number): void {
  for (const [n, v] of [
    ["inChannels", inC],
    ["outChannels", outC],
    ["groups", groups],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) fail(layer, `${n} must be a positive integer, got ${v}`);
  }
  if (inC % groups !== 0 || outC % groups !== 0) fail(layer, `inChannels ${inC} and outChannels ${outC} must be divisible by groups ${groups}`);
}

/**
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias: kaiming_uniform_(a=sqrt(5)) and PyTorch's
 * conv bias init come to the same bound.
 */
function initUniform(shape: number[], biasLen: number, fanIn: number, bias: boolean, opts: InitOptions): [Tensor, Tensor | null] {
  const bound = 1 / Math.sqrt(fanIn);
  const gen = typeof opts.seed === "number" ? new Generator(opts.seed) : opts.seed;
  const o = { dtype: opts.dtype, backend: opts.backend, seed: gen };
  const w = uniform(shape, -bound, bound, o);
  return [w, bias ? uniform([biasLen], -bound, bound, o) : null];
}

export interface Conv2dLayerOptions extends InitOptions, Conv2dOptions {
  bias?: boolean;
}

/** nn.Conv2d: weight [out, in/groups, kh, kw], bias [out]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly options: Conv2dOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    checkChannels("Conv2d", inChannels, outChannels, groups);
    this.kernelSize = pair(kernelSize);
    const [kh, kw] = this.kernelSize;
    if (![kh, kw].every((k) => Number.isInteger(k) && k >= 1)) fail("Conv2d", `kernelSize must be a positive integer or a pair of them, got ${JSON.stringify(kernelSize)}`);
    this.options = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups };
    const [w, b] = initUniform([outChannels, inChannels / groups, kh, kw], outChannels, (inChannels / groups) * kh * kw, opts.bias !== false, opts);
    this.weight = this.registerParameter("weight", w);
    this.bias = b && this.registerParameter("bias", b);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

export interface ConvTranspose2dLayerOptions extends InitOptions, ConvTranspose2dOptions {
  bias?: boolean;
}

/** nn.ConvTranspose2d: weight [in, out/groups, kh, kw], bias [out]. */
export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly options: ConvTranspose2dOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    checkChannels("ConvTranspose2d", inChannels, outChannels, groups);
    this.kernelSize = pair(kernelSize);
    const [kh, kw] = this.kernelSize;
    if (![kh, kw].every((k) => Number.isInteger(k) && k >= 1))
      fail("ConvTranspose2d", `kernelSize must be a positive integer or a pair of them, got ${JSON.stringify(kernelSize)}`);
    this.options = { stride: opts.stride, padding: opts.padding, outputPadding: opts.outputPadding, dilation: opts.dilation, groups };
    // PyTorch's fan_in of a [in, out/groups, kh, kw] weight is its dim 1 times the kernel size.
    const [w, b] = initUniform([inChannels, outChannels / groups, kh, kw], outChannels, (outChannels / groups) * kh * kw, opts.bias !== false, opts);
    this.weight = this.registerParameter("weight", w);
    this.bias = b && this.registerParameter("bias", b);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.options);
  }
}

/** nn.GroupNorm: weight ones, bias zeros ([numChannels]) when affine. */
export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    opts: InitOptions & { eps?: number; affine?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(numGroups) || !Number.isInteger(numChannels) || numGroups < 1 || numChannels % numGroups !== 0) {
      fail("GroupNorm", `numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    }
    this.eps = opts.eps ?? 1e-5;
    const o = { dtype: opts.dtype, backend: opts.backend };
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter("weight", ones([numChannels], o)) : null;
    this.bias = affine ? this.registerParameter("bias", zeros([numChannels], o)) : null;
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.numChannels) fail("GroupNorm", `x ${fmtShape(x.shape)} must be [N, ${this.numChannels}, ...]`);
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

export interface BatchNormLayerOptions extends InitOptions {
  eps?: number;
  /** Default 0.1; null = cumulative average (factor 1 / num_batches_tracked), as PyTorch. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * nn.BatchNorm2d on [N, C, H, W]: parameters weight/bias, buffers running_mean (zeros),
 * running_var (ones) and num_batches_tracked (int32 scalar; PyTorch's is int64, which loads
 * narrowed). `train()` uses batch statistics and updates the buffers; `eval()` uses them.
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  constructor(
    readonly numFeatures: number,
    opts: BatchNormLayerOptions = {},
  ) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) fail("BatchNorm2d", `numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    const o = { dtype: opts.dtype, backend: opts.backend };
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter("weight", ones([numFeatures], o)) : null;
    this.bias = affine ? this.registerParameter("bias", zeros([numFeatures], o)) : null;
    const track = opts.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer("running_mean", zeros([numFeatures], o)) : null;
    this.runningVar = track ? this.registerBuffer("running_var", ones([numFeatures], o)) : null;
    this.numBatchesTracked = track ? this.registerBuffer("num_batches_tracked", zeros([], { dtype: "int32", backend: opts.backend })) : null;
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.numFeatures) fail("BatchNorm2d", `x ${fmtShape(x.shape)} must be [N, ${this.numFeatures}, H, W]`);
    const useBatch = this.training || !this.runningMean;
    if (!useBatch) return batchNormImpl(x, this.runningMean, this.runningVar, this.weight, this.bias, false, 0, this.eps);
    const factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && nbt) {
      tidy(() => {
        assign(nbt, add(nbt, 1));
      });
    }
    if (this.training && nbt && this.momentum === null) {
      return tidy(() => batchNormImpl(x, this.runningMean, this.runningVar, this.weight, this.bias, true, reciprocal(cast(nbt, x.dtype)), this.eps));
    }
    // Running stats update only in training mode (an eval-mode module without them uses batch stats only).
    return batchNormImpl(x, this.training ? this.runningMean : null, this.training ? this.runningVar : null, this.weight, this.bias, true, factor, this.eps);
  }
}

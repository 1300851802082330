/**
 * Basic layers with PyTorch's parameter names and default initializations.
 */
import type { DType } from "../core/dtype";
import { fail } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { ones, zeros } from "../ops/creation";
import { embedding } from "../ops/indexing";
import { linear } from "../ops/matmul";
import { layerNorm, rmsNorm } from "../ops/normalization";
import { dropout, Generator, normal, uniform } from "../random/random";
import { Module } from "./module";

export interface InitOptions {
  dtype?: DType;
  backend?: string;
  /** Seed or generator for the initial values. */
  seed?: number | Generator;
}

/** y = x W^T + b; W [out, in] and b [out] start U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(inFeatures) || !Number.isInteger(outFeatures) || inFeatures < 1 || outFeatures < 1) {
      fail("Linear", `features must be positive integers, got in ${inFeatures}, out ${outFeatures}`);
    }
    const bound = 1 / Math.sqrt(inFeatures);
    const gen = typeof opts.seed === "number" ? new Generator(opts.seed) : opts.seed;
    const o = { dtype: opts.dtype, backend: opts.backend, seed: gen };
    this.weight = this.registerParameter("weight", uniform([outFeatures, inFeatures], -bound, bound, o));
    this.bias = opts.bias === false ? null : this.registerParameter("bias", uniform([outFeatures], -bound, bound, o));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Lookup table [num, dim], initialized N(0, 1) as PyTorch. */
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: InitOptions = {},
  ) {
    super();
    this.weight = this.registerParameter("weight", normal([numEmbeddings, embeddingDim], 0, 1, opts));
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(normalizedShape: number | readonly number[], opts: InitOptions & { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    const o = { dtype: opts.dtype, backend: opts.backend };
    this.weight = affine ? this.registerParameter("weight", ones(shape, o)) : null;
    this.bias = affine && opts.bias !== false ? this.registerParameter("bias", zeros(shape, o)) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  readonly eps: number;
  constructor(dim: number | readonly number[], opts: InitOptions & { eps?: number } = {}) {
    super();
    this.eps = opts.eps ?? 1e-6;
    this.weight = this.registerParameter("weight", ones(typeof dim === "number" ? [dim] : dim, { dtype: opts.dtype, backend: opts.backend }));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** Inverted dropout in training mode, identity in eval mode. */
export class Dropout extends Module {
  private readonly gen?: Generator;
  constructor(
    readonly p = 0.5,
    opts: { seed?: number | Generator } = {},
  ) {
    super();
    if (!(p >= 0 && p < 1)) fail("Dropout", `p must lie in [0, 1), got ${p}`);
    this.gen = typeof opts.seed === "number" ? new Generator(opts.seed) : opts.seed;
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, seed: this.gen });
  }
}

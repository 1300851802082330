/**
 * A dense projection y = x W^T + b that stores W the way a checkpoint does:
 *  - 'out-in' ([out, in], torch.nn.Linear: Llama, BERT, ViT, Mamba);
 *  - 'in-out' ([in, out], Hugging Face's GPT-2 `Conv1D`), so GPT-2 weights load and save
 *    without a transpose.
 */
import { Generator, add, linear, matmul, Module, normal, uniform, zeros, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";

export interface ProjectionOptions {
  bias?: boolean;
  layout?: "out-in" | "in-out";
  /** Initial weights ~ N(0, std) (Hugging Face's initializer_range); default: PyTorch's U(+-1/sqrt(in)). */
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export class Projection extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly layout: "out-in" | "in-out";
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: ProjectionOptions = {}) {
    super();
    if (!Number.isInteger(inFeatures) || !Number.isInteger(outFeatures) || inFeatures < 1 || outFeatures < 1) {
      fail("Projection", `features must be positive integers, got in ${inFeatures}, out ${outFeatures}`);
    }
    this.layout = opts.layout ?? "out-in";
    const gen = typeof opts.seed === "number" ? new Generator(opts.seed) : opts.seed;
    const shape = this.layout === "out-in" ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    const o = { backend: opts.backend, seed: gen };
    const bound = 1 / Math.sqrt(inFeatures);
    const std = opts.initStd;
    this.weight = this.registerParameter("weight", std !== undefined ? normal(shape, 0, std, o) : uniform(shape, -bound, bound, o));
    if (opts.bias === false) this.bias = null;
    else this.bias = this.registerParameter("bias", std !== undefined ? zeros([outFeatures], { backend: opts.backend }) : uniform([outFeatures], -bound, bound, o));
  }

  /** x [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    if (this.layout === "out-in") return linear(x, this.weight, this.bias);
    const y = matmul(x, this.weight);
    return this.bias ? add(y, this.bias) : y;
  }
}


/**
 * A dense projection y = x W^T + b that stores W the way a checkpoint does:
 *  - 'out-in' ([out, in], torch.nn.Linear: Llama, BERT, ViT, Mamba);
 *  - 'in-out' ([in, out], Hugging Face's GPT-2 `Conv1D`), so GPT-2 weights load and save
 *    without a transpose.
 */
import { type Generator, affine, cast, contiguous, linear, Module, normal, transpose, uniform, zeros, type Tensor } from "@tessera/tensor";
import { QuantizedLinearWeight, quantize, quantizedLinear, type QuantFormat } from "@tessera/quantize";
import { fail } from "../errors";
import { initGenerator } from "./init";

export interface ProjectionOptions {
  bias?: boolean;
  layout?: "out-in" | "in-out";
  /** Initial weights ~ N(0, std) (Hugging Face's initializer_range); default: PyTorch's U(+-1/sqrt(in)). */
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export class Projection extends Module {
  private floatWeight: Tensor | null;
  /** The weight-only quantized weight [out, in], once `quantize` was called. */
  quantized: QuantizedLinearWeight | null = null;
  readonly bias: Tensor | null;
  readonly layout: "out-in" | "in-out";
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: ProjectionOptions = {},
  ) {
    super();
    if (!Number.isInteger(inFeatures) || !Number.isInteger(outFeatures) || inFeatures < 1 || outFeatures < 1) {
      fail("Projection", `features must be positive integers, got in ${inFeatures}, out ${outFeatures}`);
    }
    this.layout = opts.layout ?? "out-in";
    const gen = initGenerator(opts.seed);
    const shape = this.layout === "out-in" ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    const o = { backend: opts.backend, seed: gen };
    const bound = 1 / Math.sqrt(inFeatures);
    const std = opts.initStd;
    this.floatWeight = this.registerParameter("weight", std !== undefined ? normal(shape, 0, std, o) : uniform(shape, -bound, bound, o));
    if (opts.bias === false) this.bias = null;
    else this.bias = this.registerParameter("bias", std !== undefined ? zeros([outFeatures], { backend: opts.backend }) : uniform([outFeatures], -bound, bound, o));
  }

  /** The float weight (in its layout); fails once the projection is quantized. */
  get weight(): Tensor {
    if (!this.floatWeight) fail("Projection", "the weight is quantized (see .quantized); its float copy was freed");
    return this.floatWeight;
  }

  /**
   * Replaces the float weight by a weight-only quantized copy (@tessera/quantize) and frees the
   * float one: the parameter leaves the state dict. The weight must be readable on the cpu.
   */
  quantize(format: QuantFormat): void {
    if (this.quantized) fail("Projection.quantize", "already quantized");
    const w = this.weight;
    const outIn = this.layout === "out-in" ? w : contiguous(transpose(w));
    this.quantized = new QuantizedLinearWeight(quantize(outIn, format));
    if (outIn !== w) outIn.dispose();
    this.removeParameter("weight").dispose();
    this.floatWeight = null;
  }

  /**
   * Stores the float weight as `dtype` (float16 / bfloat16 halve its memory; float32 restores
   * the layout of a fresh model): the bias stays float32 and activations stay float32, since
   * `linear` multiplies a float32 input by a half weight in float32 arithmetic (on webgpu the
   * half weight is read in place; other backends widen it per call).
   */
  castWeight(dtype: "float32" | "float16" | "bfloat16"): void {
    const w = this.weight;
    if (w.dtype === dtype) return;
    const c = cast(w, dtype);
    this.setParameter("weight", c);
    this.floatWeight = c;
    w.dispose();
  }

  /** x [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    if (this.quantized) return quantizedLinear(x, this.quantized, this.bias);
    if (this.layout === "out-in") return linear(x, this.weight, this.bias);
    return affine(x, this.weight, this.bias);
  }
}

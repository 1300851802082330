/**
 * Lookup-free quantization (MAGVIT-v2, Yu et al. 2023, arXiv 2310.05737; as
 * vector-quantize-pytorch's LFQ): each dimension is quantized to its sign, q = +-scale, so the
 * codebook is the implicit {-1, 1}^D (2^D codes); index bits are MSB first. Gradients by the
 * straight-through estimator. The entropy loss pushes codes to be confident per sample and
 * diverse over the batch:
 *   logits = 2 inv_temperature x . c  for every code c;  p = softmax(logits)
 *   loss = mean_n H(p_n) - gamma H(mean_n p_n)
 */
import {
  add,
  cast,
  div,
  floor,
  gt,
  log,
  logSoftmax,
  matmul,
  mean,
  mul,
  neg,
  reshape,
  softmax,
  stopGradient,
  sub,
  sum,
  tensor,
  transpose,
  where,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "./errors";

export interface LFQOptions {
  dim: number;
  /** Code magnitude (default 1). */
  scale?: number;
  /** Default 100 (vector-quantize-pytorch). */
  inverseTemperature?: number;
  /** Weight of the batch (diversity) entropy, default 1. */
  diversityGamma?: number;
}

export class LFQ {
  readonly dim: number;
  readonly codebookSize: number;
  constructor(readonly opts: LFQOptions) {
    if (!Number.isInteger(opts.dim) || opts.dim < 1 || opts.dim > 24) fail("LFQ", `dim must be an integer in [1, 24], got ${opts.dim}`);
    this.dim = opts.dim;
    this.codebookSize = 2 ** opts.dim;
  }

  private powers(backend: string): Tensor {
    return tensor(
      Array.from({ length: this.dim }, (_, d) => 2 ** (this.dim - 1 - d)),
      { backend },
    );
  }

  /** x [..., D] -> quantized (STE), indices int32 [...], and the entropy loss (dim <= 16). */
  forward(x: Tensor): { quantized: Tensor; indices: Tensor; entropyLoss: Tensor | null } {
    const D = this.dim;
    if (x.shape[x.rank - 1] !== D) fail("LFQ", `input [${x.shape}] must end in dim = ${D}`);
    const s = this.opts.scale ?? 1;
    const q = where(gt(x, 0), s, -s);
    const quantized = add(x, stopGradient(sub(q, x)));
    const indices = cast(sum(mul(cast(gt(x, 0), "float32"), this.powers(x.backend)), -1), "int32");
    let entropyLoss: Tensor | null = null;
    if (D <= 16) {
      const all = tensor(
        Array.from({ length: this.codebookSize }, (_, i) => i),
        { dtype: "int32", backend: x.backend },
      );
      const codes = this.indicesToCodes(all); // [2^D, D]
      const z = mul(matmul(reshape(x, [-1, D]), transpose(codes)), 2 * (this.opts.inverseTemperature ?? 100)); // [N, 2^D]
      const p = softmax(z, -1);
      const perSample = mean(neg(sum(mul(p, logSoftmax(z, -1)), -1)));
      const avg = mean(p, 0);
      const batchEntropy = neg(sum(mul(avg, log(add(avg, 1e-9)))));
      entropyLoss = sub(perSample, mul(batchEntropy, this.opts.diversityGamma ?? 1));
    }
    return { quantized, indices, entropyLoss };
  }

  /** indices int32 [...] -> codes [..., D] in {-scale, scale} */
  indicesToCodes(indices: Tensor): Tensor {
    const s = this.opts.scale ?? 1;
    const shifted = floor(div(reshape(cast(indices, "float32"), [...indices.shape, 1]), this.powers(indices.backend))); // idx >> (D-1-d)
    const bit = sub(shifted, mul(floor(div(shifted, 2)), 2)); // its lowest bit
    return where(gt(bit, 0), s, -s);
  }
}

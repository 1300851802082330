/**
 * SimVQ (Zhu et al. 2024, arXiv 2411.02038; vector-quantize-pytorch's sim_vq.py): the codebook is
 * a frozen Gaussian matrix C0 ~ N(0, 1/d) [K, d] seen through a learnable linear map,
 * C = C0 W^T. With `basis` it is VQGAN-LC (Zhu et al. 2024, "Scaling the Codebook Size of VQGAN
 * to 100,000"): the frozen matrix is given (e.g. k-means centres of a pretrained encoder's
 * features, [K, e]) and the learned projector maps it to the code width (W [dim, e]). Every code moves whenever W does, so codes cannot die and usage stays high for large
 * codebooks; the loss is mse(sg[x], q) + beta mse(x, sg[q]) (beta 0.25), gradients to x by the
 * rotation trick (default) or straight-through.
 */
import { add, clone, embedding, Linear, matmul, Module, mseLoss, mul, normal, reshape, stopGradient, transpose, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { rotationTrick, straightThrough } from "./estimators";
import { codebookStats, type CodebookStats } from "./metrics";
import { nearestCode } from "./search";

export interface SimVQOptions {
  dim: number;
  codebookSize: number;
  /** Weight of the commitment term (default 0.25). */
  beta?: number;
  gradient?: "ste" | "rotation";
  /** A given frozen codebook [codebookSize, e] (VQGAN-LC); default N(0, 1/dim) [codebookSize, dim]. */
  basis?: Tensor;
  seed?: number;
  backend?: string;
}

export class SimVQ extends Module {
  /** The frozen basis C0 [K, dim] (a buffer: saved, never trained). */
  readonly frozen: Tensor;
  readonly proj: Linear;
  constructor(readonly opts: SimVQOptions) {
    super();
    const { dim, codebookSize: K } = opts;
    if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(K) || K < 1) fail("SimVQ", `dim and codebookSize must be positive integers, got ${dim} and ${K}`);
    if (opts.basis && (opts.basis.rank !== 2 || opts.basis.shape[0] !== K)) fail("SimVQ", `basis [${opts.basis.shape}] must be [codebookSize = ${K}, e]`);
    const e = opts.basis ? opts.basis.shape[1] : dim;
    this.frozen = this.registerBuffer("frozen", opts.basis ? clone(opts.basis) : normal([K, dim], 0, 1 / Math.sqrt(dim), { seed: opts.seed ?? 1, backend: opts.backend }));
    this.proj = this.registerModule("proj", new Linear(e, dim, { bias: false, seed: (opts.seed ?? 1) + 1, backend: opts.backend }));
  }

  /** The effective codebook C0 W^T [K, dim]. */
  codebook(): Tensor {
    return matmul(this.frozen, transpose(this.proj.weight));
  }

  forward(x: Tensor): { quantized: Tensor; indices: Tensor; loss: Tensor; stats: CodebookStats | null } {
    const { dim, codebookSize: K } = this.opts;
    if (x.shape[x.rank - 1] !== dim) fail("SimVQ", `input [${x.shape}] must end in dim = ${dim}`);
    const lead = x.shape.slice(0, -1);
    const z = reshape(x, [-1, dim]);
    const C = this.codebook();
    const indices = nearestCode(stopGradient(z), stopGradient(C));
    const q = embedding(C, indices); // gradient reaches W through the chosen codes
    const loss = add(mseLoss(stopGradient(z), q), mul(mseLoss(z, stopGradient(q)), this.opts.beta ?? 0.25));
    const out = (this.opts.gradient ?? "rotation") === "rotation" ? rotationTrick(z, stopGradient(q)) : straightThrough(z, stopGradient(q));
    return {
      quantized: reshape(out, [...lead, dim]),
      indices: reshape(indices, lead.length ? lead : [1]),
      loss,
      stats: indices.canReadSync ? codebookStats(indices.dataSync(), K) : null,
    };
  }
}

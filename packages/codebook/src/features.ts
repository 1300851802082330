/**
 * Codebook features (Tamkin, Taufeeque & Goodman 2023, arXiv 2310.17230; taufeeque9/
 * codebook-features): a bottleneck that replaces a hidden state by the sum (or mean) of its k
 * most similar codes from a large codebook, so a layer's activity becomes a small set of
 * discrete, inspectable codes.
 *   similarity: inner product x.c/|c| (default, the reference's InnerProductSnapFunction),
 *               cosine, or euclidean (-|x - c|)
 *   S = top-k codes;  out = sum_{i in S} c_i  (or the mean)
 *   gradients: the identity to x (straight-through) and through the chosen codes to the codebook;
 *   `reconstruction` = mse(out, sg[x]) trains the codebook (the reference's "aeloss").
 * Interventions: `disable` codes are never chosen; `force` puts a code into every position's set
 * (replacing the lowest-scoring one). With `record`, per-code counts accumulate across calls.
 * The module maps [..., dim] -> [..., dim], so a model can place it after any layer.
 */
import {
  add,
  concat,
  div,
  embedding,
  matmul,
  Module,
  mseLoss,
  mul,
  narrow,
  normal,
  reshape,
  sqrt,
  stopGradient,
  sub,
  sum,
  tensor,
  topk,
  transpose,
  where,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "./errors";
import { l2normalize } from "./search";

export interface CodebookFeaturesOptions {
  dim: number;
  numCodes: number;
  /** Codes per position (default 1). */
  k?: number;
  similarity?: "inner_product" | "cosine" | "euclidean";
  reduce?: "sum" | "mean";
  seed?: number;
  backend?: string;
}

export class CodebookFeatures extends Module {
  readonly codebook: Tensor;
  readonly k: number;
  /** Codes never chosen. */
  disable = new Set<number>();
  /** A code added to every position's set (replacing its lowest-scoring code), or null. */
  force: number | null = null;
  /** Accumulate per-code counts across calls. */
  record = false;
  counts: Int32Array;
  /** The codes chosen by the last call: int32 [..., k]. */
  lastIndices: Tensor | null = null;
  /** mse(out, sg[x]) of the last call (add it to the loss to train the codebook). */
  reconstruction: Tensor | null = null;

  constructor(readonly opts: CodebookFeaturesOptions) {
    super();
    const { dim, numCodes } = opts;
    this.k = opts.k ?? 1;
    if (!Number.isInteger(this.k) || this.k < 1 || this.k > numCodes) fail("CodebookFeatures", `k must be an integer in [1, numCodes = ${numCodes}], got ${this.k}`);
    this.codebook = this.registerParameter("codebook", normal([numCodes, dim], 0, 1 / Math.sqrt(dim), { seed: opts.seed ?? 1, backend: opts.backend }));
    this.counts = new Int32Array(numCodes);
  }

  /** Similarities [N, K] of rows against every code (larger = closer). */
  similarities(x: Tensor): Tensor {
    const c = stopGradient(this.codebook);
    const sim = this.opts.similarity ?? "inner_product";
    if (sim === "cosine") return matmul(l2normalize(x), transpose(l2normalize(c)));
    const dots = matmul(x, transpose(c));
    const cn = reshape(sum(mul(c, c), -1), [1, c.shape[0]]);
    if (sim === "inner_product") return div(dots, sqrt(add(cn, 1e-12)));
    return sub(mul(dots, 2), cn); // -|x - c|^2 + |x|^2: same order as -|x - c|
  }

  forward(x: Tensor): Tensor {
    const { dim, numCodes: K } = this.opts;
    if (x.shape[x.rank - 1] !== dim) fail("CodebookFeatures", `input [${x.shape}] must end in dim = ${dim}`);
    const lead = x.shape.slice(0, -1);
    const flat = reshape(stopGradient(x), [-1, dim]);
    let s = this.similarities(flat);
    if (this.disable.size) {
      const mask = new Float32Array(K);
      for (const c of this.disable) mask[c] = 1;
      s = where(reshape(tensor(mask, { backend: x.backend }), [1, K]), -Infinity, s);
    }
    let idx = topk(s, this.k, -1).indices; // [N, k]
    if (this.force !== null) {
      const N = idx.shape[0];
      const keep = this.k > 1 ? narrow(idx, 1, 0, this.k - 1) : null;
      const forced = tensor(new Int32Array(N).fill(this.force), { shape: [N, 1], dtype: "int32", backend: x.backend });
      idx = keep ? concat([keep, forced], 1) : forced;
    }
    const chosen = embedding(this.codebook, idx); // [N, k, dim]
    let q = sum(chosen, 1);
    if ((this.opts.reduce ?? "mean") === "mean") q = div(q, this.k);
    const out = reshape(add(q, sub(reshape(x, [-1, dim]), stopGradient(reshape(x, [-1, dim])))), [...lead, dim]);
    this.reconstruction = mseLoss(q, flat);
    this.lastIndices = reshape(idx, [...lead, this.k]);
    if (this.record) {
      // cpu counts at once; GPU backends count when the indices arrive (read asynchronously).
      if (idx.canReadSync) for (const i of idx.dataSync()) this.counts[i]++;
      else void idx.data().then((v) => v.forEach((i) => this.counts[i]++));
    }
    return out;
  }

  /** Codes chosen at least once since counting started. */
  activeCodes(): number {
    return this.counts.reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
  }

  resetCounts(): void {
    this.counts.fill(0);
  }
}

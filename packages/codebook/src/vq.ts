/**
 * VectorQuantizer: the VQ-VAE bottleneck (van den Oord et al. 2017) with the options of
 * lucidrains/vector-quantize-pytorch, split into plain pieces:
 *  - nearest code by euclidean or cosine distance (search.ts), optional low-dimensional codebook
 *    behind in/out projections;
 *  - codebook learned by EMA (default; decay 0.8, Laplace smoothing eps 1e-5):
 *      N_i <- g N_i + (1-g) n_i ;  m_i <- g m_i + (1-g) sum_{z -> i} z
 *      e_i = m_i / ((N_i + eps) / (sum N + K eps) * sum N)
 *    or by gradient (ema: false: the codebook is a parameter, codebook loss mse(sg[x], q));
 *  - k-means++ initialisation on the first training batch; dead-code restart (codes whose EMA
 *    count falls under a threshold take random batch vectors);
 *  - commitment loss beta * mse(x, sg[q]); gradients by the straight-through estimator or the
 *    rotation trick (default, as vector-quantize-pytorch for dim > 1).
 * Returns the quantized vectors, indices, losses and codebook statistics.
 */
import { Generator, HostRandom } from "@tessera/tensor";
import {
  add,
  all,
  argmax,
  assign,
  cast,
  div,
  embedding,
  eq,
  expand,
  gather,
  Linear,
  log,
  logicalAnd,
  lt,
  matmul,
  Module,
  mseLoss,
  mul,
  neg,
  oneHot,
  reshape,
  stopGradient,
  sub,
  sum,
  tensor,
  tidy,
  transpose,
  uniform,
  where,
  zeros,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "./errors";
import { rotationTrick, straightThrough } from "./estimators";
import { kmeans } from "./kmeans";
import { codebookStats, type CodebookStats } from "./metrics";
import { l2normalize, nearestCode, scores, type Metric } from "./search";

export interface VectorQuantizerOptions {
  dim: number;
  codebookSize: number;
  /** Codebook vectors' width; projections in and out when it differs from dim. */
  codebookDim?: number;
  metric?: Metric;
  /** Learn the codebook by EMA (default true) rather than by gradient. */
  ema?: boolean;
  decay?: number;
  eps?: number;
  kmeansInit?: boolean;
  kmeansIters?: number;
  /** EMA count under which a code is restarted from the batch (default 0: off). */
  deadCodeThreshold?: number;
  commitmentWeight?: number;
  gradient?: "ste" | "rotation";
  /**
   * Gumbel sampling of codes in training (vector-quantize-pytorch's stochastic_sample_codes):
   * index = argmax(score / temperature + Gumbel noise), so codes are drawn with probabilities
   * softmax(score / temperature); evaluation stays deterministic.
   */
  stochastic?: boolean;
  temperature?: number;
  seed?: number;
  backend?: string;
}

export interface VQOutput {
  quantized: Tensor;
  indices: Tensor;
  /** commitment (+ codebook loss when not EMA). */
  loss: Tensor;
  commitment: Tensor;
  codebookLoss: Tensor | null;
  /**
   * Usage, perplexity and dead codes of this batch; null on backends that read asynchronously
   * (webgpu): there, `codebookStats(await out.indices.data(), K)`.
   */
  stats: CodebookStats | null;
}

export class VectorQuantizer extends Module {
  readonly embed: Tensor;
  readonly clusterSize: Tensor | null = null;
  readonly embedAvg: Tensor | null = null;
  readonly projectIn: Linear | null = null;
  readonly projectOut: Linear | null = null;
  initted: boolean;
  private readonly rng: HostRandom;
  readonly opts: Required<Omit<VectorQuantizerOptions, "codebookDim" | "backend" | "seed" | "stochastic" | "temperature">> & {
    codebookDim: number;
    backend?: string;
    stochastic: boolean;
    temperature: number;
  };

  constructor(options: VectorQuantizerOptions) {
    super();
    const { dim, codebookSize: K } = options;
    if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(K) || K < 1) fail("VectorQuantizer", `dim and codebookSize must be positive integers, got ${dim} and ${K}`);
    const cd = options.codebookDim ?? dim;
    this.opts = {
      dim,
      codebookSize: K,
      codebookDim: cd,
      metric: options.metric ?? "euclidean",
      ema: options.ema ?? true,
      decay: options.decay ?? 0.8,
      eps: options.eps ?? 1e-5,
      kmeansInit: options.kmeansInit ?? false,
      kmeansIters: options.kmeansIters ?? 10,
      deadCodeThreshold: options.deadCodeThreshold ?? 0,
      commitmentWeight: options.commitmentWeight ?? 1,
      gradient: options.gradient ?? (cd > 1 ? "rotation" : "ste"),
      stochastic: options.stochastic ?? false,
      temperature: options.temperature ?? 1,
      backend: options.backend,
    };
    if (!(this.opts.decay >= 0 && this.opts.decay < 1)) fail("VectorQuantizer", `decay must lie in [0, 1), got ${this.opts.decay}`);
    // One stream for the module: the codebook's init, then the projections, then (later, lazily)
    // the restarts' and k-means' draws; a number per part would repeat or alias draws across parts.
    const gen = new Generator(options.seed ?? 1);
    this.rng = new HostRandom(gen);
    const backend = options.backend;
    // vector-quantize-pytorch's init: kaiming-uniform on [K, d] (bound sqrt(6 / (K d))), or zeros until k-means runs.
    const bound = Math.sqrt(6 / (K * cd));
    const init = this.opts.kmeansInit ? zeros([K, cd], { backend }) : uniform([K, cd], -bound, bound, { seed: gen, backend });
    if (this.opts.ema) {
      this.embed = this.registerBuffer("embed", init);
      this.clusterSize = this.registerBuffer("clusterSize", add(zeros([K], { backend }), 1));
      this.embedAvg = this.registerBuffer(
        "embedAvg",
        tidy(() => add(init, 0)),
      );
    } else this.embed = this.registerParameter("embed", init);
    this.initted = !this.opts.kmeansInit;
    if (cd !== dim) {
      this.projectIn = this.registerModule("projectIn", new Linear(dim, cd, { seed: gen, backend }));
      this.projectOut = this.registerModule("projectOut", new Linear(cd, dim, { seed: gen, backend }));
    }
  }

  /** The codebook vectors of indices (any shape) -> [..., dim] (through the out projection). */
  codesFromIndices(indices: Tensor): Tensor {
    const q = embedding(this.codebook(), indices);
    return this.projectOut ? this.projectOut.forward(q) : q;
  }

  private codebook(): Tensor {
    return this.opts.metric === "cosine" ? l2normalize(this.embed) : this.embed;
  }

  forward(x: Tensor): VQOutput {
    const { dim, codebookSize: K } = this.opts;
    if (x.shape[x.rank - 1] !== dim) fail("VectorQuantizer", `input [${x.shape}] must end in dim = ${dim}`);
    const lead = x.shape.slice(0, -1);
    let z = reshape(x, [-1, dim]);
    if (this.projectIn) z = this.projectIn.forward(z);
    if (this.opts.metric === "cosine") z = l2normalize(z);
    // A training batch with NaN or inf would make the EMA codebook (and k-means init) non-finite
    // for good. Where values read synchronously (cpu) that is an error before anything changes;
    // on asynchronous backends (webgpu) the updates are skipped on the device for such a batch.
    const finite = this.training ? this.finiteBatch(x, z) : null;
    if (this.training && !this.initted) this.kmeansInit(z, finite);
    const indices =
      this.training && this.opts.stochastic ? this.sample(stopGradient(z)) : nearestCode(stopGradient(z), stopGradient(this.codebook()), { metric: this.opts.metric }); // [N]
    const q = embedding(this.opts.ema ? stopGradient(this.codebook()) : this.codebook(), indices); // [N, cd]
    const commitment = mul(mseLoss(z, stopGradient(q)), this.opts.commitmentWeight);
    const codebookLoss = this.opts.ema ? null : mseLoss(stopGradient(z), q);
    const est = this.opts.gradient === "rotation" ? rotationTrick(z, q) : straightThrough(z, q);
    // The estimator carries x's gradient; a gradient-learned codebook gets its own from codebookLoss.
    let out = est;
    if (this.projectOut) out = this.projectOut.forward(out);
    const stats = indices.canReadSync ? codebookStats(indices.dataSync(), K) : null;
    if (this.training && this.opts.ema) this.emaUpdate(z, indices, finite);
    finite?.dispose();
    return {
      quantized: reshape(out, [...lead, dim]),
      indices: reshape(indices, lead.length ? lead : [1]),
      loss: codebookLoss ? add(commitment, codebookLoss) : commitment,
      commitment,
      codebookLoss,
      stats,
    };
  }

  /** Gumbel-max sampling: argmax(score / temperature - log(-log u)). */
  private sample(z: Tensor): Tensor {
    return tidy(() => {
      const s = scores(z, stopGradient(this.codebook()), this.opts.metric); // [N, K]
      const u = uniform(s.shape, 1e-20, 1, { seed: Math.floor(this.rng.uniform() * 2 ** 31), backend: s.backend });
      return cast(argmax(sub(div(s, this.opts.temperature), log(neg(log(u)))), -1), "int32");
    });
  }

  /**
   * A scalar bool tensor: every value of the (projected) batch is finite (x - x == 0 holds for
   * finite x only). On a backend that reads synchronously a non-finite batch throws instead.
   */
  private finiteBatch(x: Tensor, z: Tensor): Tensor {
    const ok = tidy(() => {
      const zs = stopGradient(z);
      return all(eq(sub(zs, zs), 0));
    });
    if (ok.storage.backend.canReadSync && !ok.dataSync()[0]) {
      ok.dispose();
      fail("VectorQuantizer", `training batch [${x.shape}] holds NaN or inf: the EMA codebook / k-means update would make the codebook non-finite for good (nothing was updated)`);
    }
    return ok;
  }

  /** `next` where the batch was finite, else `old` (a device-side skip on asynchronous backends). */
  private guarded(finite: Tensor | null, next: Tensor, old: Tensor): Tensor {
    return finite && !finite.storage.backend.canReadSync ? where(finite, next, old) : next;
  }

  /** k-means++ and Lloyd steps on the first training batch (vector-quantize-pytorch's kmeans_init). */
  private kmeansInit(z: Tensor, finite: Tensor | null): void {
    tidy(() => {
      const r = kmeans(stopGradient(z), this.opts.codebookSize, { iters: this.opts.kmeansIters, metric: this.opts.metric, seed: Math.floor(this.rng.uniform() * 2 ** 31) });
      assign(this.embed, this.guarded(finite, r.centres, this.embed));
      if (this.clusterSize && this.embedAvg) {
        assign(this.clusterSize, this.guarded(finite, r.counts, this.clusterSize));
        assign(this.embedAvg, this.guarded(finite, mul(r.centres, reshape(r.counts, [-1, 1])), this.embedAvg));
      }
    });
    this.initted = true;
  }

  /** The EMA step with Laplace smoothing, then dead-code restart. */
  private emaUpdate(zIn: Tensor, indices: Tensor, finite: Tensor | null): void {
    const { codebookSize: K, decay: g, eps } = this.opts;
    tidy(() => {
      const z = stopGradient(zIn);
      const onehot = cast(oneHot(indices, K), "float32"); // [N, K]
      const n = sum(onehot, 0); // [K]
      const s = matmul(transpose(onehot), z); // [K, cd]
      const N = add(mul(this.clusterSize!, g), mul(n, 1 - g));
      const m = add(mul(this.embedAvg!, g), mul(s, 1 - g));
      const total = sum(N);
      const smoothed = mul(div(add(N, eps), add(total, K * eps)), total);
      assign(this.embed, this.guarded(finite, div(m, reshape(smoothed, [K, 1])), this.embed));
      assign(this.clusterSize!, this.guarded(finite, N, this.clusterSize!));
      assign(this.embedAvg!, this.guarded(finite, m, this.embedAvg!));
    });
    const threshold = this.opts.deadCodeThreshold;
    if (threshold > 0) {
      // Every code draws a random batch vector; dead ones (EMA count under the threshold) take it.
      // All on the device: no read-back, so it runs on every backend.
      tidy(() => {
        const cd = this.opts.codebookDim;
        const Nz = zIn.shape[0];
        const pick = Int32Array.from({ length: K }, () => Math.floor(this.rng.uniform() * Nz));
        const samples = gather(stopGradient(zIn), 0, expand(reshape(tensor(pick, { dtype: "int32", backend: zIn.backend }), [K, 1]), [K, cd])); // [K, cd]
        const dead = finite && !finite.storage.backend.canReadSync ? logicalAnd(lt(this.clusterSize!, threshold), finite) : lt(this.clusterSize!, threshold); // [K]
        const rows = expand(reshape(dead, [K, 1]), [K, cd]);
        assign(this.embed, where(rows, samples, this.embed));
        assign(this.embedAvg!, where(rows, mul(samples, threshold), this.embedAvg!));
        assign(this.clusterSize!, where(dead, threshold, this.clusterSize!));
      });
    }
  }
}

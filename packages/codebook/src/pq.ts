/**
 * Product quantization (Jégou, Douze & Schmid 2011) for compressing embeddings and searching
 * them approximately: the d dimensions are split into M subspaces of d/M, each quantized by its
 * own k-means codebook of `centroids` (default 256) codes, so a vector is stored as M bytes.
 * Asymmetric distance computation (ADC): for a query, a table T[m][c] = |q_m - C_m[c]|^2 is built
 * once; the squared distance to an encoded vector is sum_m T[m][code_m] (M lookups, no decoding).
 */
import { tensor, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { kmeans } from "./kmeans";

export interface ProductQuantizerOptions {
  dim: number;
  /** Subspaces M (must divide dim). */
  subspaces: number;
  /** Codes per subspace (default 256, at most 65536). */
  centroids?: number;
  iters?: number;
  seed?: number;
}

export class ProductQuantizer {
  readonly sub: number;
  readonly Ks: number;
  /** Per subspace, centroids [Ks, d/M] row-major. */
  codebooks: Float32Array[] = [];
  constructor(readonly opts: ProductQuantizerOptions) {
    const { dim, subspaces } = opts;
    if (!Number.isInteger(subspaces) || subspaces < 1 || dim % subspaces) fail("ProductQuantizer", `subspaces ${subspaces} must divide dim ${dim}`);
    this.sub = dim / subspaces;
    this.Ks = opts.centroids ?? 256;
    if (!Number.isInteger(this.Ks) || this.Ks < 2 || this.Ks > 65536) fail("ProductQuantizer", `centroids must be an integer in [2, 65536], got ${this.Ks}`);
  }

  private rows(x: Tensor): Float32Array {
    if (x.rank !== 2 || x.shape[1] !== this.opts.dim) fail("ProductQuantizer", `vectors must be [N, ${this.opts.dim}], got [${x.shape}]`);
    return Float32Array.from(x.dataSync());
  }

  /** Learns the M codebooks by k-means on the training vectors. */
  fit(x: Tensor): this {
    const v = this.rows(x);
    const N = x.shape[0];
    const { subspaces: M } = this.opts;
    const d = this.sub;
    this.codebooks = [];
    for (let m = 0; m < M; m++) {
      const part = new Float32Array(N * d);
      for (let i = 0; i < N; i++) part.set(v.subarray(i * this.opts.dim + m * d, i * this.opts.dim + (m + 1) * d), i * d);
      const r = kmeans(tensor(part, { shape: [N, d] }), this.Ks, { iters: this.opts.iters ?? 10, seed: (this.opts.seed ?? 1) + m });
      this.codebooks.push(Float32Array.from(r.centres.dataSync()));
    }
    return this;
  }

  private ready(): void {
    if (!this.codebooks.length) fail("ProductQuantizer", "call fit() first");
  }

  /** Codes [N, M]: the nearest centroid of each sub-vector. */
  encode(x: Tensor): Uint16Array {
    this.ready();
    const v = this.rows(x);
    const N = x.shape[0];
    const { subspaces: M, dim } = this.opts;
    const d = this.sub;
    const codes = new Uint16Array(N * M);
    for (let i = 0; i < N; i++) {
      for (let m = 0; m < M; m++) {
        const cb = this.codebooks[m];
        let best = 0;
        let bd = Infinity;
        for (let c = 0; c < this.Ks; c++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += (v[i * dim + m * d + j] - cb[c * d + j]) ** 2;
          if (s < bd) {
            bd = s;
            best = c;
          }
        }
        codes[i * M + m] = best;
      }
    }
    return codes;
  }

  /** Vectors [N, dim] from codes. */
  decode(codes: Uint16Array): Float32Array {
    this.ready();
    const { subspaces: M, dim } = this.opts;
    const d = this.sub;
    const N = codes.length / M;
    const out = new Float32Array(N * dim);
    for (let i = 0; i < N; i++) for (let m = 0; m < M; m++) out.set(this.codebooks[m].subarray(codes[i * M + m] * d, (codes[i * M + m] + 1) * d), i * dim + m * d);
    return out;
  }

  /** The k nearest encoded vectors of each query by ADC: indices and squared distances [Q, k]. */
  search(queries: Tensor, codes: Uint16Array, k: number): { indices: Int32Array; distances: Float32Array } {
    this.ready();
    const q = this.rows(queries);
    const Q = queries.shape[0];
    const { subspaces: M, dim } = this.opts;
    const d = this.sub;
    const N = codes.length / M;
    if (!(k >= 1 && k <= N)) fail("ProductQuantizer.search", `k must lie in [1, ${N}], got ${k}`);
    const indices = new Int32Array(Q * k);
    const distances = new Float32Array(Q * k);
    const table = new Float32Array(M * this.Ks);
    const dist = new Float32Array(N);
    for (let a = 0; a < Q; a++) {
      for (let m = 0; m < M; m++) {
        const cb = this.codebooks[m];
        for (let c = 0; c < this.Ks; c++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += (q[a * dim + m * d + j] - cb[c * d + j]) ** 2;
          table[m * this.Ks + c] = s;
        }
      }
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += table[m * this.Ks + codes[i * M + m]];
        dist[i] = s;
      }
      const order = Array.from({ length: N }, (_, i) => i)
        .sort((x, y) => dist[x] - dist[y] || x - y)
        .slice(0, k);
      order.forEach((i, r) => {
        indices[a * k + r] = i;
        distances[a * k + r] = dist[i];
      });
    }
    return { indices, distances };
  }
}

/**
 * Nearest-code search: for rows x [N, d] and a codebook E [K, d], the index of the closest code.
 *  - euclidean: argmin |x - e|^2 = argmax (2 x.e - |e|^2)   (|x|^2 is the same for every code)
 *  - cosine:    argmax x.e / (|x| |e|)
 * Scores come from one matmul per block of codes (the backend's GEMM), so it runs on every
 * backend; blocks of `blockSize` codes keep the [N, block] score matrix bounded for codebooks of
 * 100k+ codes, merging the running best with each block's. Where a backend registered a fused
 * search kernel (NEAREST_CODE in @tessera/tensor's kernel registry; `@tessera/codebook/webgpu`
 * registers the WGSL one of search-wgsl.ts) it is the default.
 */
import {
  argmax,
  cast,
  concat,
  div,
  getKernel,
  gt,
  kernelBackends,
  matmul,
  max,
  mul,
  narrow,
  reshape,
  sqrt,
  square,
  sub,
  sum,
  tidy,
  transpose,
  where,
  add,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "./errors";

/** Registry name of the fused nearest-code kernel. */
export const NEAREST_CODE = "codebook.nearestCode";

/**
 * A fused search: int32 [N] indices of the best code per row of x [N, d] against codes [K, d],
 * by argmax(2 x.e - |e|^2) (euclidean) or argmax x.e (rows and codes already L2-normalized).
 * Ties keep the lower index.
 */
export type NearestCodeKernel = (x: Tensor, codes: Tensor, euclidean: boolean) => Tensor;

export type Metric = "euclidean" | "cosine";

export interface SearchOptions {
  metric?: Metric;
  /** Codes scored per block (default 4096). */
  blockSize?: number;
  /**
   * 'fused': the backend's registered search kernel (webgpu, once `@tessera/codebook/webgpu` is
   * imported; no [N, K] scores); 'gemm': scores by the backend's GEMM then argmax (the
   * reference). Default: fused where a kernel is registered (and the kernel preference is
   * 'fast'), gemm elsewhere.
   */
  implementation?: "fused" | "gemm";
}

/** Score-matrix elements per step: rows are processed in chunks so [rows, codes] stays bounded. */
const MAX_SCORES = 1 << 24;

/** Row-wise L2 normalisation (zero rows stay zero). */
export function l2normalize(x: Tensor): Tensor {
  return tidy(() => div(x, add(sqrt(sum(square(x), -1, { keepdims: true })), 1e-12)));
}

/** The score matrix [N, k] of rows against codes: larger = closer. */
export function scores(x: Tensor, codes: Tensor, metric: Metric): Tensor {
  return tidy(() => {
    if (metric === "cosine") return matmul(l2normalize(x), transpose(l2normalize(codes)));
    const e2 = reshape(sum(square(codes), -1), [1, codes.shape[0]]);
    return sub(mul(matmul(x, transpose(codes)), 2), e2);
  });
}

/** Index of the nearest code per row: int32 [N]. */
export function nearestCode(x: Tensor, codebook: Tensor, opts: SearchOptions = {}): Tensor {
  if (x.rank !== 2 || codebook.rank !== 2 || x.shape[1] !== codebook.shape[1]) fail("nearestCode", `x [${x.shape}] and codebook [${codebook.shape}] must be [N, d] and [K, d]`);
  if (codebook.shape[0] === 0) fail("nearestCode", `codebook [${codebook.shape}] has no codes: nothing to search`);
  const metric = opts.metric ?? "euclidean";
  const kernel = opts.implementation === "gemm" ? undefined : getKernel<NearestCodeKernel>(NEAREST_CODE, x.backend, { ignorePreference: opts.implementation === "fused" });
  if (opts.implementation === "fused" && !kernel) {
    const have = kernelBackends(NEAREST_CODE);
    fail(
      "nearestCode",
      `no fused kernel for backend '${x.backend}' (registered for: ${have.join(", ") || "none"}; import "@tessera/codebook/webgpu" for webgpu); use implementation 'gemm'`,
    );
  }
  if (kernel) return tidy(() => (metric === "cosine" ? kernel(l2normalize(x), l2normalize(codebook), false) : kernel(x, codebook, true)));
  const K = codebook.shape[0];
  const block = Math.max(1, opts.blockSize ?? 4096);
  const N = x.shape[0];
  const rowChunk = Math.max(1, Math.floor(MAX_SCORES / Math.min(K, block)));
  if (N > rowChunk) {
    // Many rows (k-means over millions of sub-vectors): search chunk by chunk.
    return tidy(() => {
      const parts: Tensor[] = [];
      for (let r0 = 0; r0 < N; r0 += rowChunk) parts.push(nearestCode(narrow(x, 0, r0, Math.min(rowChunk, N - r0)), codebook, opts));
      return concat(parts, 0);
    });
  }
  return tidy(() => {
    if (K <= block) return cast(argmax(scores(x, codebook, metric), -1), "int32");
    let bestScore: Tensor | null = null;
    let bestIndex: Tensor | null = null;
    for (let k0 = 0; k0 < K; k0 += block) {
      const n = Math.min(block, K - k0);
      const s = scores(x, narrow(codebook, 0, k0, n), metric); // [N, n]
      const bs = max(s, -1);
      const bi = add(cast(argmax(s, -1), "int32"), k0);
      if (!bestScore || !bestIndex) [bestScore, bestIndex] = [bs, bi];
      else {
        const better = gt(bs, bestScore); // strictly better: ties keep the lower index
        bestIndex = where(better, bi, bestIndex);
        bestScore = where(better, bs, bestScore);
      }
    }
    return bestIndex!;
  });
}

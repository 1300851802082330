/**
 * k-means with k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd iterations whose
 * assignment step is the nearest-code search (so it runs on any backend and scales to large K).
 *  - seeding: the first centre uniformly at random, each next one with probability proportional
 *    to the squared distance to the nearest centre so far (seeded, reproducible; inputs larger
 *    than 64 K points seed from a uniform sample of that many);
 *  - update: each centre becomes the mean of its points; an empty cluster keeps its centre (as
 *    vector-quantize-pytorch's kmeans).
 */
import { HostRandom } from "@tessera/tensor";
import { add, cast, div, expand, gather, gt, matmul, mul, narrow, oneHot, reshape, sub, sum, tensor, tidy, transpose, where, type Tensor } from "@tessera/tensor";

/** One-hot elements per chunk of rows in the update step. */
const CHUNK_ELEMS = 1 << 24;
/** k-means++ seeds from at most this many points per centre (a uniform sample of large inputs). */
const SEED_POINTS_PER_CENTRE = 64;
import { fail } from "./errors";
import { nearestCode, type Metric } from "./search";

export interface KMeansOptions {
  iters?: number;
  init?: "kmeans++" | "random";
  metric?: Metric;
  seed?: number;
}

/** k-means++ centres (rows of x) chosen with D^2 sampling (from a uniform sample of 64 K points when x is larger). */
export function kmeansPlusPlus(x: Tensor, K: number, seed = 1): Tensor {
  const [Nall, d] = x.shape;
  if (K > Nall) fail("kmeans", `needs at least K = ${K} points, got ${Nall}`);
  const all = x.dataSync();
  const rng = new HostRandom(seed);
  const limit = SEED_POINTS_PER_CENTRE * K;
  let v = all;
  let N = Nall;
  if (Nall > limit) {
    N = limit;
    v = new Float32Array(N * d);
    for (let i = 0; i < N; i++) {
      const r = Math.floor(rng.uniform() * Nall);
      v.set(all.subarray(r * d, (r + 1) * d), i * d);
    }
  }
  const chosen: number[] = [Math.floor(rng.uniform() * N)];
  const d2 = new Float64Array(N).fill(Infinity);
  for (let c = 1; c < K; c++) {
    const last = chosen[c - 1] * d;
    let total = 0;
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (v[i * d + j] - v[last + j]) ** 2;
      if (s < d2[i]) d2[i] = s;
      total += d2[i];
    }
    let u = rng.uniform() * total;
    let pick = N - 1;
    for (let i = 0; i < N; i++) {
      u -= d2[i];
      if (u < 0) {
        pick = i;
        break;
      }
    }
    chosen.push(pick);
  }
  return tensor(Float32Array.from(chosen.flatMap((i) => Array.from(v.subarray(i * d, (i + 1) * d)))), { shape: [K, d], backend: x.backend });
}

/** One Lloyd step: assignments, then means (empty clusters keep their centre). Returns [centres, counts]. */
export function lloydStep(x: Tensor, centres: Tensor, metric: Metric = "euclidean"): { centres: Tensor; counts: Tensor; assign: Tensor } {
  return tidy(() => {
    const K = centres.shape[0];
    const N = x.shape[0];
    const assign = nearestCode(x, centres, { metric });
    // Counts and sums per cluster through one-hot products, in row chunks so [rows, K] stays bounded.
    const chunk = Math.max(1, Math.floor(CHUNK_ELEMS / K));
    let counts: Tensor | null = null;
    let sums: Tensor | null = null;
    for (let r0 = 0; r0 < N; r0 += chunk) {
      const n = Math.min(chunk, N - r0);
      const onehot = cast(oneHot(narrow(assign, 0, r0, n), K), "float32"); // [n, K]
      const c = sum(onehot, 0); // [K]
      const s = matmul(transpose(onehot), narrow(x, 0, r0, n)); // [K, d]
      counts = counts ? add(counts, c) : c;
      sums = sums ? add(sums, s) : s;
    }
    counts = counts!;
    sums = sums!;
    const safe = where(gt(counts, 0), counts, 1);
    const means = div(sums, reshape(safe, [K, 1]));
    const keep = expand(reshape(gt(counts, 0), [K, 1]), centres.shape);
    return { centres: where(keep, means, centres), counts, assign };
  });
}

export function kmeans(x: Tensor, K: number, opts: KMeansOptions = {}): { centres: Tensor; counts: Tensor; assign: Tensor; inertia: number } {
  if (x.rank !== 2) fail("kmeans", `x must be [N, d], got [${x.shape}]`);
  const metric = opts.metric ?? "euclidean";
  let centres: Tensor;
  if ((opts.init ?? "kmeans++") === "kmeans++") centres = kmeansPlusPlus(x, K, opts.seed);
  else {
    const rng = new HostRandom(opts.seed);
    const idx = Array.from({ length: K }, () => Math.floor(rng.uniform() * x.shape[0]));
    centres = gather(x, 0, expand(reshape(tensor(idx, { dtype: "int32", backend: x.backend }), [K, 1]), [K, x.shape[1]]));
  }
  let last = lloydStep(x, centres, metric);
  for (let it = 1; it < (opts.iters ?? 10); it++) {
    const next = lloydStep(x, last.centres, metric);
    last.centres.dispose();
    centres.dispose();
    centres = next.centres;
    last = next;
  }
  // Sum of squared distances to the assigned centres ([N, d] memory, whatever K is).
  const inertia = tidy(() => {
    const [N, d] = x.shape;
    const nearest = gather(last.centres, 0, expand(reshape(last.assign, [N, 1]), [N, d]));
    const diff = sub(x, nearest);
    return sum(mul(diff, diff)).itemSync();
  });
  return { centres: last.centres, counts: last.counts, assign: last.assign, inertia };
}

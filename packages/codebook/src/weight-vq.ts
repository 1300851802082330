/**
 * Weight vector quantization: a weight W [N, K] (nn.Linear layout) is cut into sub-vectors of v
 * consecutive input weights and each is replaced by a codeword index, so at C = 256 codes and
 * v = 4 a weight costs 2 bits (plus the codebook).
 *  - k-means codebook (the baseline);
 *  - VQ4DiT (Deng et al. 2024): each sub-vector keeps its `candidates` nearest codewords with
 *    soft weights softmax(a / tau); the weights (and the codebook) are calibrated on inputs to
 *    minimise the layer's output error |x W^T - x W^^T|^2 while tau anneals from 1 to 0.01 (so
 *    the mixture ends one-hot, as the hard assignment it becomes), then each sub-vector takes
 *    its highest-weighted candidate;
 *  - JLCM-style grouped codebooks (Lim et al. 2024): rows sorted by (mean, std) of their weights
 *    are split into G groups with one codebook each, at no per-weight cost.
 * The product runs without expanding W: per input row, a table of dot products between x's
 * sub-vectors and every codeword, then one lookup per stored index (vqLinear).
 */
import { AdamW, dispose, embedding, gradients, keep, matmul, mseLoss, mul, reshape, softmax, sum, tensor, tidy, topk, transpose, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { kmeans } from "./kmeans";
import { scores } from "./search";

export interface WeightVQ {
  rows: number;
  cols: number;
  /** Sub-vector length v. */
  vec: number;
  /** Codebooks [groups][C * v] and each row's group. */
  codebooks: Float32Array[];
  rowGroup: Int32Array;
  /** Codeword index per sub-vector, row-major [rows, cols / v]. */
  indices: Uint16Array;
}

export interface WeightVQOptions {
  /** Sub-vector length (default 4). */
  vec?: number;
  /** Codewords per codebook (default 256). */
  codes?: number;
  /** JLCM-style row groups with their own codebooks (default 1). */
  groups?: number;
  iters?: number;
  seed?: number;
}

function check(w: Tensor, v: number): [number, number] {
  if (w.rank !== 2 || w.shape[1] % v) fail("weightVQ", `weight [${w.shape}] must be [out, in] with in a multiple of vec = ${v}`);
  if (!w.canReadSync) fail("weightVQ", `the weight lives on '${w.backend}': move it to cpu first`);
  return [w.shape[0], w.shape[1]];
}

/** k-means weight VQ, optionally with JLCM-style row groups. */
export function weightVQ(w: Tensor, opts: WeightVQOptions = {}): WeightVQ {
  const v = opts.vec ?? 4;
  const C = opts.codes ?? 256;
  const G = opts.groups ?? 1;
  const [N, K] = check(w, v);
  const wv = w.dataSync();
  // Rows ordered by (mean, std), cut into G contiguous groups of the order.
  const stats = Array.from({ length: N }, (_, n) => {
    let m = 0;
    for (let k = 0; k < K; k++) m += wv[n * K + k] / K;
    let s = 0;
    for (let k = 0; k < K; k++) s += (wv[n * K + k] - m) ** 2 / K;
    return { n, m, s: Math.sqrt(s) };
  }).sort((a, b) => a.m - b.m || a.s - b.s);
  const rowGroup = new Int32Array(N);
  stats.forEach((r, i) => (rowGroup[r.n] = Math.min(G - 1, Math.floor((i * G) / N))));
  const codebooks: Float32Array[] = [];
  const indices = new Uint16Array((N * K) / v);
  for (let g = 0; g < G; g++) {
    const rows = [...rowGroup.keys()].filter((n) => rowGroup[n] === g);
    const subs = new Float32Array(rows.length * K);
    rows.forEach((n, i) => subs.set(wv.subarray(n * K, (n + 1) * K), i * K));
    const count = (rows.length * K) / v;
    if (count < C) fail("weightVQ", `group ${g} has ${count} sub-vectors, fewer than ${C} codes`);
    const r = kmeans(tensor(subs, { shape: [count, v] }), C, { iters: opts.iters ?? 10, seed: (opts.seed ?? 1) + g });
    codebooks.push(Float32Array.from(r.centres.dataSync()));
    const a = r.assign.dataSync();
    rows.forEach((n, i) => {
      for (let s = 0; s < K / v; s++) indices[n * (K / v) + s] = a[i * (K / v) + s];
    });
  }
  return { rows: N, cols: K, vec: v, codebooks, rowGroup, indices };
}

/** The dense weight [N, K] a WeightVQ stands for. */
export function dequantizeVQ(q: WeightVQ): Float32Array {
  const { rows: N, cols: K, vec: v } = q;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const cb = q.codebooks[q.rowGroup[n]];
    for (let s = 0; s < K / v; s++) out.set(cb.subarray(q.indices[n * (K / v) + s] * v, (q.indices[n * (K / v) + s] + 1) * v), n * K + s * v);
  }
  return out;
}

/** y = x W^^T [M, N] for x [M, K] (cpu): a per-row table of codeword dot products, then lookups. */
export function vqLinear(x: Tensor, q: WeightVQ): Tensor {
  const { rows: N, cols: K, vec: v } = q;
  if (x.shape[x.rank - 1] !== K) fail("vqLinear", `x [${x.shape}] has ${x.shape[x.rank - 1]} features; the weight expects ${K}`);
  const xv = x.dataSync();
  const M = xv.length / K;
  const S = K / v;
  const out = new Float32Array(M * N);
  const tables = q.codebooks.map((cb) => new Float32Array(S * (cb.length / v)));
  for (let m = 0; m < M; m++) {
    q.codebooks.forEach((cb, g) => {
      const C = cb.length / v;
      const t = tables[g];
      for (let s = 0; s < S; s++) {
        for (let c = 0; c < C; c++) {
          let d = 0;
          for (let j = 0; j < v; j++) d += xv[m * K + s * v + j] * cb[c * v + j];
          t[s * C + c] = d;
        }
      }
    });
    for (let n = 0; n < N; n++) {
      const g = q.rowGroup[n];
      const t = tables[g];
      const C = q.codebooks[g].length / v;
      let acc = 0;
      for (let s = 0; s < S; s++) acc += t[s * C + q.indices[n * S + s]];
      out[m * N + n] = acc;
    }
  }
  return tensor(out, { shape: [...x.shape.slice(0, -1), N] });
}

export interface VQ4DiTOptions {
  /** Candidate codewords per sub-vector (default 4). */
  candidates?: number;
  steps?: number;
  lr?: number;
}

/**
 * VQ4DiT calibration of a (single-codebook) WeightVQ on calibration inputs x [n, K]: soft
 * weights over each sub-vector's candidate codewords and the codebook are trained to match the
 * float layer's outputs; each sub-vector then takes its best candidate.
 */
export function calibrateVQ4DiT(q: WeightVQ, w: Tensor, x: Tensor, opts: VQ4DiTOptions = {}): WeightVQ {
  if (q.codebooks.length !== 1) fail("calibrateVQ4DiT", "calibrate a single-codebook WeightVQ (groups: 1)");
  const { rows: N, cols: K, vec: v } = q;
  const S = K / v;
  const k = opts.candidates ?? 4;
  const C = q.codebooks[0].length / v;
  const codebook = keep(tensor(q.codebooks[0], { shape: [C, v] }));
  // Candidates: the k nearest codewords of each original sub-vector; initial logits from distances.
  const subs = reshape(w, [N * S, v]);
  const cand = keep(tidy(() => topk(scores(subs, codebook, "euclidean"), k, -1).indices)); // [N*S, k]
  // Start from the k-means choice: the nearest candidate leads, the others share what is left.
  const init = new Float32Array(N * S * k);
  for (let i = 0; i < N * S; i++) for (let j = 0; j < k; j++) init[i * k + j] = j === 0 ? 2 : 0;
  const logits = keep(tensor(init, { shape: [N * S, k] }));
  const target = keep(tidy(() => matmul(x, transpose(w)))); // [n, N]
  const opt = new AdamW({ logits, codebook }, { lr: opts.lr ?? 5e-3, weightDecay: 0 });
  const steps = opts.steps ?? 100;
  let tau = 1;
  const soft = () => reshape(sum(mul(embedding(codebook, cand), reshape(softmax(mul(logits, 1 / tau), -1), [N * S, k, 1])), 1), [N, K]); // [N, K]
  for (let step = 0; step < steps; step++) {
    tau = 0.01 ** (step / Math.max(1, steps - 1));
    const r = tidy(() => gradients(() => mseLoss(matmul(x, transpose(soft())), target), { logits, codebook }));
    opt.step(r.grads);
    dispose([r.value, r.grads]);
  }
  const best = topk(logits, 1, -1).indices.dataSync();
  const c = cand.dataSync();
  const indices = Uint16Array.from({ length: N * S }, (_, i) => c[i * k + best[i]]);
  const out: WeightVQ = { ...q, codebooks: [Float32Array.from(codebook.dataSync())], indices };
  opt.dispose();
  dispose([codebook, cand, logits, target]);
  return out;
}

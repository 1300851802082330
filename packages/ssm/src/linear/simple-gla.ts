/**
 * Linear attention with a scalar decay per head and step ("simple GLA"; RetNet's retention and
 * Mamba-2's SSD are special cases). With state S [K, V] per (batch, head):
 *
 *   S_t = exp(g_t) S_{t-1} + k_t v_t^T          (g_t <= 0: log of the decay; no g: no decay)
 *   o_t = scale * q_t^T S_t
 *
 * Three forms (flash-linear-attention `fla/ops/simple_gla/naive.py`, Yang et al. 2024 "Gated
 * Linear Attention Transformers with Hardware-Efficient Training", section 3):
 *   recurrent  the literal loop over t (the reference)
 *   parallel   O = (scale Q K^T * M) V + (Q * exp(G)) S_0, M[t,s] = exp(G_t - G_s) [t >= s],
 *              G = cumsum(g): quadratic in T, the "attention" view
 *   chunked    parallel inside chunks of Q steps, the state carried between chunks:
 *              O_c = (Q_c K_c^T * M_c) V_c + (Q_c * exp(G_c)) S_c
 *              S_{c+1} = exp(G_last) S_c + (K_c * exp(G_last - G_c))^T V_c
 * Decay matrices are masked before exp (G_t - G_s > 0 above the diagonal).
 * Shapes: q, k [B, H, T, K]; v [B, H, T, V]; g [B, H, T]; state [B, H, K, V].
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { lowerMask } from "../selective/chunked";
import { checkTensors, expectShape, fail, positiveInt, shp } from "../util";
import { checkQKV, decayMatrix, decayStep, runRecurrence, zeroState, type DecayOptions, type Dims, type RecurrenceResult } from "./decay";

function parallel(q: Tensor, k: Tensor, v: Tensor, g: Tensor | null, s0: Tensor | null, scale: number): RecurrenceResult {
  const Tn = q.shape[2];
  const qs = T.mul(q, scale);
  const scores = T.matmul(qs, T.transpose(k, -1, -2)); // [B, H, T, T]
  const G = g ? T.cumsum(g, 2) : null; // [B, H, T]
  const M = G ? decayMatrix(G) : T.where(lowerMask(Tn, q.backend), 1, 0);
  let o = T.matmul(T.mul(scores, M), v); // [B, H, T, V]
  const gq = G ? T.mul(qs, T.unsqueeze(T.exp(G), -1)) : qs; // q_t exp(G_t)
  if (s0) o = T.add(o, T.matmul(gq, s0));
  // final state: exp(G_T) S_0 + sum_s exp(G_T - G_s) k_s v_s^T
  const last = G ? T.narrow(G, 2, Tn - 1, 1) : null; // [B, H, 1]
  const kw = last ? T.mul(k, T.unsqueeze(T.exp(T.sub(last, G!)), -1)) : k;
  let state = T.matmul(T.transpose(kw, -1, -2), v); // [B, H, K, V]
  if (s0) state = T.add(state, last ? T.mul(s0, T.unsqueeze(T.exp(last), -1)) : s0);
  return { o, state };
}

function padTime(x: Tensor, to: number): Tensor {
  const Tn = x.shape[2];
  if (Tn === to) return x;
  const w: [number, number][] = x.shape.map((): [number, number] => [0, 0]);
  w[2] = [0, to - Tn];
  return T.pad(x, w);
}

function chunked(q: Tensor, k: Tensor, v: Tensor, g: Tensor | null, s0: Tensor, scale: number, d: Dims, Q: number): RecurrenceResult {
  const nc = Math.ceil(d.T / Q);
  const Tp = nc * Q;
  // Padding: k = v = 0 and g = 0 leave the state unchanged.
  const split = (x: Tensor, inner: number[]) => T.reshape(padTime(x, Tp), [d.Bb, d.H, nc, Q, ...inner]);
  const qc = split(T.mul(q, scale), [d.K]); // [B, H, nc, Q, K]
  const kc = split(k, [d.K]);
  const vc = split(v, [d.V]); // [B, H, nc, Q, V]
  const G = g ? T.cumsum(split(g, []), 3) : null; // [B, H, nc, Q] within-chunk cumulative log-decay
  const M = G ? decayMatrix(G) : T.where(lowerMask(Q, q.backend), 1, 0); // [B, H, nc, Q, Q]
  const intra = T.matmul(T.mul(T.matmul(qc, T.transpose(kc, -1, -2)), M), vc); // [B, H, nc, Q, V]
  const Glast = G ? T.narrow(G, 3, Q - 1, 1) : null; // [B, H, nc, 1]
  const kDecayed = Glast ? T.mul(kc, T.unsqueeze(T.exp(T.sub(Glast, G!)), -1)) : kc; // k_s exp(G_last - G_s)
  const local = T.matmul(T.transpose(kDecayed, -1, -2), vc); // [B, H, nc, K, V] each chunk's own contribution
  const chunkDecay = Glast ? T.exp(Glast) : null; // [B, H, nc, 1]
  // Carry the state across chunks (sequential in nc).
  const starts: Tensor[] = [];
  let S = s0;
  for (let c = 0; c < nc; c++) {
    starts.push(S);
    const dc = chunkDecay ? T.unsqueeze(T.select(chunkDecay, 2, c), -1) : null; // [B, H, 1, 1]
    S = T.add(dc ? T.mul(S, dc) : S, T.select(local, 2, c));
  }
  const Sc = T.stack(starts, 2); // [B, H, nc, K, V]
  const qDecayed = G ? T.mul(qc, T.unsqueeze(T.exp(G), -1)) : qc; // q_t exp(G_t)
  const o = T.add(intra, T.matmul(qDecayed, Sc)); // [B, H, nc, Q, V]
  const out = T.narrow(T.reshape(o, [d.Bb, d.H, Tp, d.V]), 2, 0, d.T);
  return { o: out, state: S };
}

/**
 * Scalar-decay linear attention (simple GLA). g [B, H, T] holds log-decays (<= 0 for a decay;
 * null for plain causal linear attention). Returns o [B, H, T, V] and the last state.
 */
export function simpleGla(q: Tensor, k: Tensor, v: Tensor, g: Tensor | null, opts: DecayOptions = {}): RecurrenceResult {
  const op = "simpleGla";
  const d = checkQKV(op, q, k, v, { g }, opts.initialState);
  if (g) expectShape(op, "g", g, [d.Bb, d.H, d.T], `[B, H, T] = [${d.Bb},${d.H},${d.T}]`);
  const scale = opts.scale ?? 1 / Math.sqrt(d.K);
  const form = opts.form ?? "chunked";
  const Q = opts.chunkSize ?? 64;
  positiveInt(op, "chunkSize", Q);
  if (d.T === 0) fail(op, `q ${shp(q)} has no time steps`);
  const s0 = opts.initialState ?? null;
  if (form === "recurrent") return runRecurrence(d.T, s0 ?? zeroState(d, q), (at, st) => decayStep(at(q), at(k), at(v), g ? at(g) : null, st, scale));
  if (form === "parallel") return parallel(q, k, v, g, s0, scale);
  if (form === "chunked") return chunked(q, k, v, g, s0 ?? zeroState(d, q), scale, d, Q);
  fail(op, `unknown form '${String(form)}' (recurrent, parallel, chunked)`);
}

/** One decoding step of simpleGla: q, k [B, H, K], v [B, H, V], g [B, H] or null. */
export function simpleGlaStep(q: Tensor, k: Tensor, v: Tensor, g: Tensor | null, state: Tensor, opts: { scale?: number } = {}): { o: Tensor; state: Tensor } {
  const op = "simpleGlaStep";
  checkTensors(op, q, { q, k, v, g, state });
  if (q.rank !== 3) fail(op, `q ${shp(q)} must be [B, H, K]`);
  const [Bb, H, K] = q.shape;
  expectShape(op, "k", k, [Bb, H, K], `[B, H, K] like q ${shp(q)}`);
  if (v.rank !== 3 || v.shape[0] !== Bb || v.shape[1] !== H) fail(op, `v ${shp(v)} must be [B, H, V]`);
  expectShape(op, "state", state, [Bb, H, K, v.shape[2]], `[B, H, K, V] = [${Bb},${H},${K},${v.shape[2]}]`);
  if (g) expectShape(op, "g", g, [Bb, H], `[B, H] = [${Bb},${H}]`);
  return decayStep(q, k, v, g, state, opts.scale ?? 1 / Math.sqrt(K));
}

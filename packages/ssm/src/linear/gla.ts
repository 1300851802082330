/**
 * Gated linear attention with a data-dependent decay per key channel (Yang et al. 2024, "Gated
 * Linear Attention Transformers with Hardware-Efficient Training"; flash-linear-attention
 * `fla/ops/gla/naive.py`):
 *
 *   S_t = diag(exp(gk_t)) S_{t-1} + k_t v_t^T,   o_t = scale * q_t^T S_t      (gk <= 0)
 *
 * Chunked form: within a chunk, with G = cumsum(gk) per key channel,
 *   o_t = sum_{s<=t} sum_i q_t[i] k_s[i] exp(G_t[i] - G_s[i]) v_s  +  (q_t * exp(G_t)) S_start
 *   S_end = exp(G_last) * S_start + (k * exp(G_last - G))^T V
 * The intra-chunk pairwise decays are formed explicitly ([Q, Q, K] per chunk, masked before
 * exp), so every exponent is <= 0: stable for any gate, at O(T Q K) memory (the secondary
 * chunking of the paper, section 4.2, with one level).
 * Shapes: q, k, gk [B, H, T, K]; v [B, H, T, V]; state [B, H, K, V].
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { lowerMask } from "../selective/chunked";
import { checkTensors, expectShape, fail, positiveInt, shp } from "../util";
import { checkQKV, runRecurrence, type RecurrenceResult } from "./decay";

export interface GlaOptions {
  scale?: number;
  initialState?: Tensor | null;
  /** 'chunked' (default) or 'recurrent'. */
  form?: "chunked" | "recurrent";
  /** Chunk length (default 16). */
  chunkSize?: number;
}

/** One step: q, k, gk [B, H, K]; v [B, H, V]; state [B, H, K, V]. */
export function glaStep(q: Tensor, k: Tensor, v: Tensor, gk: Tensor, state: Tensor, opts: { scale?: number } = {}): { o: Tensor; state: Tensor } {
  const op = "glaStep";
  checkTensors(op, q, { q, k, v, gk, state });
  if (q.rank !== 3) fail(op, `q ${shp(q)} must be [B, H, K]`);
  expectShape(op, "k", k, q.shape, `like q ${shp(q)}`);
  expectShape(op, "gk", gk, q.shape, `like q ${shp(q)}`);
  expectShape(op, "state", state, [...q.shape, v.shape[v.rank - 1]], `[B, H, K, V]`);
  const scale = opts.scale ?? 1 / Math.sqrt(q.shape[2]);
  const next = T.add(T.mul(state, T.unsqueeze(T.exp(gk), -1)), T.mul(T.unsqueeze(k, -1), T.unsqueeze(v, -2))); // [B, H, K, V]
  const o = T.squeeze(T.matmul(T.unsqueeze(T.mul(q, scale), -2), next), -2); // [B, H, V]
  return { o, state: next };
}

function chunked(q: Tensor, k: Tensor, v: Tensor, gk: Tensor, s0: Tensor, scale: number, Q: number): RecurrenceResult {
  const [Bb, H, Tn, K] = q.shape;
  const V = v.shape[3];
  const nc = Math.ceil(Tn / Q);
  const Tp = nc * Q;
  const split = (x: Tensor, inner: number) => {
    const padded =
      Tp === Tn
        ? x
        : T.pad(x, [
            [0, 0],
            [0, 0],
            [0, Tp - Tn],
            [0, 0],
          ]); // k = v = 0, gk = 0 past T
    return T.reshape(padded, [Bb, H, nc, Q, inner]);
  };
  const qc = split(T.mul(q, scale), K); // [B, H, nc, Q, K]
  const kc = split(k, K);
  const vc = split(v, V);
  const G = T.cumsum(split(gk, K), 3); // [B, H, nc, Q, K]
  // intra-chunk: A[t, s] = sum_i q_t[i] k_s[i] exp(G_t[i] - G_s[i]), t >= s
  const diff = T.sub(T.unsqueeze(G, 4), T.unsqueeze(G, 3)); // [B, H, nc, Q(t), Q(s), K]
  const mask = T.unsqueeze(lowerMask(Q, q.backend), -1); // [Q, Q, 1]
  const pair = T.exp(T.where(mask, diff, -Infinity));
  const A = T.sum(T.mul(T.mul(T.unsqueeze(qc, 4), T.unsqueeze(kc, 3)), pair), -1); // [B, H, nc, Q, Q]
  const intra = T.matmul(A, vc); // [B, H, nc, Q, V]
  const Glast = T.narrow(G, 3, Q - 1, 1); // [B, H, nc, 1, K]
  const local = T.matmul(T.transpose(T.mul(kc, T.exp(T.sub(Glast, G))), -1, -2), vc); // [B, H, nc, K, V]
  const decay = T.transpose(T.exp(Glast), -1, -2); // [B, H, nc, K, 1]
  const starts: Tensor[] = [];
  let S = s0;
  for (let c = 0; c < nc; c++) {
    starts.push(S);
    S = T.add(T.mul(S, T.select(decay, 2, c)), T.select(local, 2, c));
  }
  const inter = T.matmul(T.mul(qc, T.exp(G)), T.stack(starts, 2)); // [B, H, nc, Q, V]
  const o = T.narrow(T.reshape(T.add(intra, inter), [Bb, H, Tp, V]), 2, 0, Tn);
  return { o, state: S };
}

/** Gated linear attention over a sequence: o [B, H, T, V] and the last state. */
export function gla(q: Tensor, k: Tensor, v: Tensor, gk: Tensor, opts: GlaOptions = {}): RecurrenceResult {
  const op = "gla";
  const d = checkQKV(op, q, k, v, { gk }, opts.initialState);
  expectShape(op, "gk", gk, q.shape, `[B, H, T, K] like q ${shp(q)}`);
  const scale = opts.scale ?? 1 / Math.sqrt(d.K);
  const s0 = opts.initialState ?? T.zeros([d.Bb, d.H, d.K, d.V], { backend: q.backend });
  const Q = opts.chunkSize ?? 16;
  positiveInt(op, "chunkSize", Q);
  const form = opts.form ?? "chunked";
  if (form === "recurrent") return runRecurrence(q.shape[2], s0, (at, st) => glaStep(at(q), at(k), at(v), at(gk), st, { scale }));
  if (form === "chunked") return chunked(q, k, v, gk, s0, scale, Q);
  fail(op, `unknown form '${String(form)}' (recurrent, chunked)`);
}

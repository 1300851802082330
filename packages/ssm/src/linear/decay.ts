/**
 * What the linear-attention recurrences share (simple GLA, GLA, DeltaNet): options and result
 * types, input checks, the one-step state update, the recurrent loop and the masked decay
 * matrix exp(G_t - G_s) for t >= s. Shapes: q, k [B, H, T, K]; v [B, H, T, V]; state [B, H, K, V].
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { lowerMask } from "../selective/chunked";
import { checkTensors, expectShape, fail, shp } from "../util";

export type DecayForm = "recurrent" | "parallel" | "chunked";

export interface DecayOptions {
  /** Multiplies q (default K^-0.5, as flash-linear-attention). */
  scale?: number;
  /** State before the first step [B, H, K, V] (default zeros). */
  initialState?: Tensor | null;
  /** 'chunked' (default), 'parallel' or 'recurrent'. */
  form?: DecayForm;
  /** Steps per chunk for the chunked form (default 64). */
  chunkSize?: number;
}

export interface RecurrenceResult {
  /** [B, H, T, V] */
  o: Tensor;
  /** The state after the last step. [B, H, K, V] */
  state: Tensor;
}

export interface Dims {
  Bb: number;
  H: number;
  T: number;
  K: number;
  V: number;
}

/** Checks q, k, v (and optional per-step tensors) and returns the dimensions. */
export function checkQKV(op: string, q: Tensor, k: Tensor, v: Tensor, extra: Record<string, Tensor | null | undefined>, initialState?: Tensor | null): Dims {
  checkTensors(op, q, { q, k, v, ...extra, initialState });
  if (q.rank !== 4) fail(op, `q ${shp(q)} must be [B, H, T, K]`);
  const [Bb, H, Tn, K] = q.shape;
  expectShape(op, "k", k, [Bb, H, Tn, K], `[B, H, T, K] like q ${shp(q)}`);
  if (v.rank !== 4 || v.shape[0] !== Bb || v.shape[1] !== H || v.shape[2] !== Tn) fail(op, `v ${shp(v)} must be [B, H, T, V] with B, H, T of q ${shp(q)}`);
  const V = v.shape[3];
  if (initialState) expectShape(op, "initialState", initialState, [Bb, H, K, V], `[B, H, K, V] = [${Bb},${H},${K},${V}]`);
  return { Bb, H, T: Tn, K, V };
}

export function zeroState(d: Dims, like: Tensor): Tensor {
  return T.zeros([d.Bb, d.H, d.K, d.V], { backend: like.backend });
}

/** One step: q, k [B, H, K], v [B, H, V], g [B, H] or null; state [B, H, K, V]. */
export function decayStep(q: Tensor, k: Tensor, v: Tensor, g: Tensor | null, state: Tensor, scale: number): { o: Tensor; state: Tensor } {
  const decayed = g ? T.mul(state, T.reshape(T.exp(g), [...g.shape, 1, 1])) : state; // exp(g_t) S_{t-1}
  const next = T.add(decayed, T.mul(T.unsqueeze(k, -1), T.unsqueeze(v, -2))); // + k_t v_t^T
  const o = T.squeeze(T.matmul(T.unsqueeze(T.mul(q, scale), -2), next), -2); // [B, H, V]
  return { o, state: next };
}

/**
 * The literal recurrence: steps t = 0 .. Tn-1 from state s0, where `step(at, state)` advances
 * one token (`at(x)` selects token t of a [B, H, T, ...] input). Each step's temporaries are
 * freed at once (the tape, when recording, keeps what it needs).
 */
export function runRecurrence(Tn: number, s0: Tensor, step: (at: (x: Tensor) => Tensor, state: Tensor) => { o: Tensor; state: Tensor }): RecurrenceResult {
  let state = s0;
  const os: Tensor[] = [];
  for (let t = 0; t < Tn; t++) {
    const prev = state;
    [os[t], state] = T.tidy(() => {
      const r = step((x) => T.select(x, 2, t), prev);
      return [r.o, r.state];
    });
    if (prev !== s0) prev.dispose();
  }
  const o = T.stack(os, 2);
  T.dispose(os);
  return { o, state };
}

/** Masked decay matrix exp(G_t - G_s) for t >= s, else 0. G [..., Q] -> [..., Q, Q] */
export function decayMatrix(G: Tensor): Tensor {
  const Q = G.shape[G.rank - 1];
  const seg = T.sub(T.unsqueeze(G, -1), T.unsqueeze(G, -2)); // G_t - G_s
  return T.exp(T.where(lowerMask(Q, G.backend), seg, -Infinity));
}

/**
 * Retention (Sun et al. 2023, "Retentive Network", section 2.1): per head h a fixed decay
 * gamma_h, by default gamma_h = 1 - 2^(-5 - h) (multi-scale retention):
 *
 *   parallel   O = (Q K^T * D) V,  D[n, m] = gamma^(n - m) for n >= m, else 0
 *   recurrent  S_n = gamma S_{n-1} + k_n^T v_n,  o_n = q_n S_n
 *   chunkwise  the parallel form inside chunks, the recurrent one across them
 *
 * It is scalar-decay linear attention with log-decay g = log(gamma) at every step (decay.ts).
 * Shapes: q, k [B, H, T, K]; v [B, H, T, V]; state [B, H, K, V].
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fail, shp } from "../util";
import { checkQKV, type RecurrenceResult } from "./decay";
import { simpleGla, simpleGlaStep } from "./simple-gla";

export interface RetentionOptions {
  /** Per-head decay gamma [H] (default 1 - 2^(-5 - h)). */
  gamma?: readonly number[] | Tensor;
  /** Multiplies q (default K^-0.5; the RetNet paper scales k by d^-0.5, the same product). */
  scale?: number;
  /** 'parallel', 'recurrent' or 'chunkwise' (default). */
  form?: "parallel" | "recurrent" | "chunkwise";
  chunkSize?: number;
  initialState?: Tensor | null;
}

/** The multi-scale decays 1 - 2^(-5 - h), h = 0 .. H-1. */
export function retentionGammas(H: number): number[] {
  return Array.from({ length: H }, (_, h) => 1 - 2 ** (-5 - h));
}

/** log(gamma) per head as a tensor [H]. */
function logGamma(gamma: RetentionOptions["gamma"], H: number, backend: string): Tensor {
  if (gamma === undefined) return T.tensor(retentionGammas(H).map(Math.log), { backend });
  const g = Array.isArray(gamma) ? T.tensor(gamma as number[], { backend }) : (gamma as Tensor);
  if (g.rank !== 1 || g.shape[0] !== H) fail("retention", `gamma ${shp(g)} must have one decay per head (H = ${H})`);
  return T.log(g);
}

/** Retention over a sequence: o [B, H, T, V] and the last state. */
export function retention(q: Tensor, k: Tensor, v: Tensor, opts: RetentionOptions = {}): RecurrenceResult {
  const d = checkQKV("retention", q, k, v, {}, opts.initialState);
  const lg = logGamma(opts.gamma, d.H, q.backend); // [H]
  const g = T.expand(T.reshape(lg, [1, d.H, 1]), [d.Bb, d.H, d.T]); // [B, H, T]
  const form = opts.form ?? "chunkwise";
  if (!["parallel", "recurrent", "chunkwise"].includes(form)) fail("retention", `unknown form '${form}' (parallel, recurrent, chunkwise)`);
  return simpleGla(q, k, v, g, { scale: opts.scale, initialState: opts.initialState, chunkSize: opts.chunkSize, form: form === "chunkwise" ? "chunked" : form });
}

/** One decoding step: q, k [B, H, K]; v [B, H, V]; state [B, H, K, V]. */
export function retentionStep(q: Tensor, k: Tensor, v: Tensor, state: Tensor, opts: Pick<RetentionOptions, "gamma" | "scale"> = {}): { o: Tensor; state: Tensor } {
  if (q.rank !== 3) fail("retentionStep", `q ${shp(q)} must be [B, H, K]`);
  const [Bb, H] = q.shape;
  const g = T.expand(T.reshape(logGamma(opts.gamma, H, q.backend), [1, H]), [Bb, H]);
  return simpleGlaStep(q, k, v, g, state, opts);
}

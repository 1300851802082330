/**
 * SSD, the state-space dual of Mamba-2 (Dao & Gu 2024, "Transformers are SSMs", Listing 1;
 * mamba_ssm `modules/ssd_minimal.py`): a selective SSM whose A is one scalar per head, so it is
 * scalar-decay linear attention with q = C, k = B, v = dt x and log-decay g = dt A:
 *
 *   h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T      h [P, N] per head
 *   y_t = h_t C_t + D x_t
 *
 * Shapes (mamba_ssm / Hugging Face layout): x [B, L, H, P]; dt [B, L, H] (already softplus'ed);
 * A [H]; B, C [B, L, G, N] with G groups shared by H/G heads each; D [H] or [H, P];
 * state [B, H, P, N] (HF's `ssm_states` layout).
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import type { DecayForm } from "../linear/decay";
import { simpleGla, simpleGlaStep } from "../linear/simple-gla";
import { checkTensors, expectShape, fail, shp } from "../util";

export interface SsdOptions {
  /** Skip connection D x (D [H] or [H, P]). */
  D?: Tensor | null;
  /** State before the first step [B, H, P, N]. */
  initialState?: Tensor | null;
  /** 'chunked' (default: ssd_minimal's algorithm), 'parallel' (quadratic) or 'recurrent' (the reference). */
  form?: DecayForm;
  /** Chunk length Q (default 64). */
  chunkSize?: number;
}

/** [B, L, G, N] -> per head [B, H, L, N] (head h uses group h / (H / G)). */
function perHead(X: Tensor, H: number): Tensor {
  const [Bb, L, G, N] = X.shape;
  const t = T.unsqueeze(T.transpose(X, 1, 2), 2); // [B, G, 1, L, N]
  return T.reshape(T.contiguous(T.expand(t, [Bb, G, H / G, L, N])), [Bb, H, L, N]);
}

function skip(y: Tensor, x: Tensor, D: Tensor | null | undefined, H: number): Tensor {
  if (!D) return y;
  return T.add(y, T.mul(x, D.rank === 1 ? T.reshape(D, [H, 1]) : D)); // x [..., H, P]
}

function checkD(op: string, D: Tensor | null | undefined, H: number, P: number): void {
  if (D && !(D.rank === 1 && D.shape[0] === H) && !(D.rank === 2 && D.shape[0] === H && D.shape[1] === P)) fail(op, `D ${shp(D)} must be [H] = [${H}] or [H, P] = [${H},${P}]`);
}

/** y [B, L, H, P] and the last state [B, H, P, N]. */
export function ssd(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, opts: SsdOptions = {}): { y: Tensor; state: Tensor } {
  const op = "ssd";
  checkTensors(op, x, { x, dt, A, B, C, D: opts.D, initialState: opts.initialState });
  if (x.rank !== 4) fail(op, `x ${shp(x)} must be [B, L, H, P]`);
  const [Bb, L, H, P] = x.shape;
  expectShape(op, "dt", dt, [Bb, L, H], `[B, L, H] = [${Bb},${L},${H}]`);
  expectShape(op, "A", A, [H], `[H] = [${H}]`);
  if (B.rank !== 4 || B.shape[0] !== Bb || B.shape[1] !== L || H % B.shape[2] !== 0) fail(op, `B ${shp(B)} must be [B, L, G, N] with G dividing H = ${H}`);
  const N = B.shape[3];
  expectShape(op, "C", C, B.shape, `like B ${shp(B)}`);
  checkD(op, opts.D, H, P);
  if (opts.initialState) expectShape(op, "initialState", opts.initialState, [Bb, H, P, N], `[B, H, P, N] = [${Bb},${H},${P},${N}]`);
  const q = perHead(C, H); // [B, H, L, N]
  const k = perHead(B, H);
  const v = T.transpose(T.mul(x, T.unsqueeze(dt, -1)), 1, 2); // [B, H, L, P]  dt x
  const g = T.transpose(T.mul(dt, A), 1, 2); // [B, H, L]  dt A
  const s0 = opts.initialState ? T.transpose(opts.initialState, -1, -2) : null; // [B, H, N, P]
  const r = simpleGla(q, k, v, g, { scale: 1, initialState: s0, form: opts.form, chunkSize: opts.chunkSize ?? 64 });
  const y = skip(T.transpose(r.o, 1, 2), x, opts.D, H); // [B, L, H, P]
  return { y, state: T.transpose(r.state, -1, -2) };
}

/** One step: state [B, H, P, N]; x [B, H, P]; dt [B, H]; A [H]; B, C [B, G, N]. */
export function ssdStep(state: Tensor, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, opts: { D?: Tensor | null } = {}): { y: Tensor; state: Tensor } {
  const op = "ssdStep";
  checkTensors(op, state, { state, x, dt, A, B, C, D: opts.D });
  if (state.rank !== 4) fail(op, `state ${shp(state)} must be [B, H, P, N]`);
  const [Bb, H, P, N] = state.shape;
  expectShape(op, "x", x, [Bb, H, P], `[B, H, P] = [${Bb},${H},${P}]`);
  expectShape(op, "dt", dt, [Bb, H], `[B, H] = [${Bb},${H}]`);
  expectShape(op, "A", A, [H], `[H] = [${H}]`);
  if (B.rank !== 3 || B.shape[0] !== Bb || B.shape[2] !== N || H % B.shape[1] !== 0) fail(op, `B ${shp(B)} must be [B, G, N] with G dividing H = ${H}`);
  expectShape(op, "C", C, B.shape, `like B ${shp(B)}`);
  checkD(op, opts.D, H, P);
  const head = (X: Tensor) => T.squeeze(perHead(T.unsqueeze(X, 1), H), 2); // [B, H, N]
  const r = simpleGlaStep(head(C), head(B), T.mul(x, T.unsqueeze(dt, -1)), T.mul(dt, A), T.transpose(state, -1, -2), { scale: 1 });
  return { y: skip(r.o, x, opts.D, H), state: T.transpose(r.state, -1, -2) };
}

/**
 * The delta rule (DeltaNet: Schlag et al. 2021; Yang et al. 2024, "Parallelizing Linear
 * Transformers with the Delta Rule over Sequence Length") and its gated form (Gated DeltaNet:
 * Yang et al. 2025). With state S [K, V], write strength beta_t in (0, 1) and optional
 * log-decay g_t <= 0:
 *
 *   S'   = exp(g_t) S_{t-1}                       (gated only)
 *   S_t  = S' + k_t (beta_t (v_t - S'^T k_t))^T   = (I - beta_t k_t k_t^T) S' + beta_t k_t v_t^T
 *   o_t  = scale * q_t^T S_t
 *
 * Chunked form (the WY / UT representation; flash-linear-attention
 * `fla/ops/delta_rule/naive.py::delta_rule_chunkwise`, `gated_delta_rule/naive.py`): per
 * chunk, with G = cumsum(g) and the masked decay matrix Lm[t, s] = exp(G_t - G_s) (t >= s),
 *   Tm = (I + tril(diag(beta) K K^T * Lm, -1))^-1
 *   U  = Tm (beta V),   W = Tm (beta K * exp(G))
 *   V' = U - W S,   O = (Q * exp(G)) S + tril(Q K^T * Lm) V',   S <- exp(G_last) S + (K * exp(G_last - G))^T V'
 * Tm is the inverse of a unit lower-triangular matrix; with N = -tril(...) nilpotent,
 * (I - N)^-1 = (I + N)(I + N^2)(I + N^4)...: log2(Q) matmuls instead of Q substitution steps.
 * Shapes: q, k [B, H, T, K] (keys usually L2-normalised); v [B, H, T, V]; beta, g [B, H, T].
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { lowerMask } from "../selective/chunked";
import { checkTensors, expectShape, fail, positiveInt, shp } from "../util";
import { checkQKV, decayMatrix, runRecurrence, type RecurrenceResult } from "./decay";

export interface DeltaRuleOptions {
  /** Log-decay per step [B, H, T] (Gated DeltaNet); omit for DeltaNet. */
  g?: Tensor | null;
  scale?: number;
  initialState?: Tensor | null;
  /** 'chunked' (default) or 'recurrent'. */
  form?: "chunked" | "recurrent";
  /** Chunk length (default 32). */
  chunkSize?: number;
}

/** One step: q, k [B, H, K]; v [B, H, V]; beta, g [B, H]; state [B, H, K, V]. */
export function deltaRuleStep(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, state: Tensor, opts: { g?: Tensor | null; scale?: number } = {}): { o: Tensor; state: Tensor } {
  const op = "deltaRuleStep";
  checkTensors(op, q, { q, k, v, beta, state, g: opts.g });
  if (q.rank !== 3) fail(op, `q ${shp(q)} must be [B, H, K]`);
  const [Bb, H, K] = q.shape;
  expectShape(op, "k", k, [Bb, H, K], `like q ${shp(q)}`);
  expectShape(op, "beta", beta, [Bb, H], `[B, H] = [${Bb},${H}]`);
  if (opts.g) expectShape(op, "g", opts.g, [Bb, H], `[B, H] = [${Bb},${H}]`);
  expectShape(op, "state", state, [Bb, H, K, v.shape[v.rank - 1]], "[B, H, K, V]");
  const decayed = opts.g ? T.mul(state, T.reshape(T.exp(opts.g), [Bb, H, 1, 1])) : state; // S'
  const predicted = T.squeeze(T.matmul(T.unsqueeze(k, -2), decayed), -2); // S'^T k  [B, H, V]
  const vNew = T.mul(T.sub(v, predicted), T.unsqueeze(beta, -1)); // beta (v - S'^T k)
  const next = T.add(decayed, T.mul(T.unsqueeze(k, -1), T.unsqueeze(vNew, -2))); // [B, H, K, V]
  const o = T.squeeze(T.matmul(T.unsqueeze(T.mul(q, opts.scale ?? 1 / Math.sqrt(K)), -2), next), -2);
  return { o, state: next };
}

/** (I - N)^-1 for strictly lower-triangular N [..., Q, Q] by repeated squaring. */
export function unitLowerInverse(N: Tensor): Tensor {
  const Q = N.shape[N.rank - 1];
  const I = T.eye(Q, Q, { backend: N.backend });
  let inv = T.add(I, N); // sum_{j < 2} N^j
  let power = N;
  for (let span = 2; span < Q; span *= 2) {
    power = T.matmul(power, power); // N^span
    inv = T.matmul(inv, T.add(I, power)); // sum_{j < 2 span} N^j
  }
  return inv;
}

function chunked(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, g: Tensor | null, s0: Tensor, scale: number, Q: number): RecurrenceResult {
  const [Bb, H, Tn, K] = q.shape;
  const V = v.shape[3];
  const nc = Math.ceil(Tn / Q);
  const Tp = nc * Q;
  // Padding: k = v = beta = 0 and g = 0 past T leave the state unchanged.
  const split = (x: Tensor, inner: number[]) => {
    const w: [number, number][] = x.shape.map((): [number, number] => [0, 0]);
    w[2] = [0, Tp - Tn];
    return T.reshape(Tp === Tn ? x : T.pad(x, w), [Bb, H, nc, Q, ...inner]);
  };
  const qc = split(T.mul(q, scale), [K]); // [B, H, nc, Q, K]
  const kc = split(k, [K]);
  const vc = split(v, [V]);
  const bc = T.unsqueeze(split(beta, []), -1); // [B, H, nc, Q, 1]
  const G = g ? T.cumsum(split(g, []), 3) : null; // [B, H, nc, Q]
  const Lm = G ? decayMatrix(G) : T.where(lowerMask(Q, q.backend), 1, 0); // [B, H, nc, Q, Q] (incl. diagonal)
  const kb = T.mul(kc, bc); // beta k
  const strict = T.tril(T.mul(T.matmul(kb, T.transpose(kc, -1, -2)), Lm), -1); // tril(beta K K^T * Lm, -1)
  const Tm = unitLowerInverse(T.neg(strict)); // (I + strict)^-1
  const U = T.matmul(Tm, T.mul(vc, bc)); // [B, H, nc, Q, V]
  const eG = G ? T.unsqueeze(T.exp(G), -1) : null; // [B, H, nc, Q, 1]
  const W = T.matmul(Tm, eG ? T.mul(kb, eG) : kb); // [B, H, nc, Q, K]
  const QK = T.mul(T.matmul(qc, T.transpose(kc, -1, -2)), Lm); // [B, H, nc, Q, Q]
  const qd = eG ? T.mul(qc, eG) : qc;
  const Glast = G ? T.narrow(G, 3, Q - 1, 1) : null; // [B, H, nc, 1]
  const kd = Glast ? T.mul(kc, T.unsqueeze(T.exp(T.sub(Glast, G!)), -1)) : kc; // k exp(G_last - G)
  const at = (x: Tensor, c: number) => T.select(x, 2, c);
  const outs: Tensor[] = [];
  let S = s0; // [B, H, K, V]
  for (let c = 0; c < nc; c++) {
    const vNew = T.sub(at(U, c), T.matmul(at(W, c), S)); // [B, H, Q, V]
    outs.push(T.add(T.matmul(at(qd, c), S), T.matmul(at(QK, c), vNew)));
    const decayed = Glast ? T.mul(S, T.unsqueeze(T.exp(at(Glast, c)), -1)) : S;
    S = T.add(decayed, T.matmul(T.transpose(at(kd, c), -1, -2), vNew));
  }
  const o = T.narrow(T.reshape(T.stack(outs, 2), [Bb, H, Tp, V]), 2, 0, Tn);
  return { o, state: S };
}

/** DeltaNet / Gated DeltaNet over a sequence: o [B, H, T, V] and the last state. */
export function deltaRule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, opts: DeltaRuleOptions = {}): RecurrenceResult {
  const op = "deltaRule";
  const d = checkQKV(op, q, k, v, { beta, g: opts.g }, opts.initialState);
  expectShape(op, "beta", beta, [d.Bb, d.H, d.T], `[B, H, T] = [${d.Bb},${d.H},${d.T}]`);
  if (opts.g) expectShape(op, "g", opts.g, [d.Bb, d.H, d.T], `[B, H, T] = [${d.Bb},${d.H},${d.T}]`);
  const scale = opts.scale ?? 1 / Math.sqrt(d.K);
  const s0 = opts.initialState ?? T.zeros([d.Bb, d.H, d.K, d.V], { backend: q.backend });
  const Q = opts.chunkSize ?? 32;
  positiveInt(op, "chunkSize", Q);
  const form = opts.form ?? "chunked";
  const g = opts.g ?? null;
  if (form === "recurrent") return runRecurrence(q.shape[2], s0, (at, st) => deltaRuleStep(at(q), at(k), at(v), at(beta), st, { g: g ? at(g) : null, scale }));
  if (form === "chunked") return chunked(q, k, v, beta, g, s0, scale, Q);
  fail(op, `unknown form '${String(form)}' (recurrent, chunked)`);
}

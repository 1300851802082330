/**
 * The associative memory one token at a time: the literal definition and the oracle for the
 * chunk-parallel form. For token t at position pos:
 *   P0  = P if pos is a multiple of chunkSize (a new mini-batch starts), else the stored start
 *   G_t = sum over the window (the last c tokens) of gamma_i * grad_P l(P0; k_i, v_i)
 *   update P (and S) with the optimiser; read o_t = M_{P_t}(q_t) (after the write, as linear
 *   attention's o_t = q_t^T S_t).
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { biasGradient } from "./bias";
import type { AssociativeState, ResolvedConfig } from "./config";
import { newtonSchulz } from "./newton-schulz";

/** Per-head gate values of one token: [B, H] tensors or numbers. */
export interface TokenGates {
  eta: Tensor | number;
  alpha: Tensor | number;
  theta: Tensor | number;
  gamma: Tensor | number;
}

/** A [B, H] gate as a multiplier for [B, H, ...rest] (rest = number of trailing dims). */
export function gateFor(g: Tensor | number, rest: number): Tensor | number {
  return typeof g === "number" ? g : T.reshape(g, [...g.shape, ...new Array<number>(rest).fill(1)]);
}

/** One token: q, k [B, H, K]; v [B, H, V]. */
export function memoryStep(cfg: ResolvedConfig, q: Tensor, k: Tensor, v: Tensor, gates: TokenGates, s: AssociativeState): { o: Tensor; state: AssociativeState } {
  const [Bb, H] = q.shape;
  const start = s.position % cfg.chunkSize === 0 ? s.params : s.start;
  const gamma = typeof gates.gamma === "number" ? T.full([Bb, H, 1], gates.gamma, { backend: q.backend }) : T.unsqueeze(gates.gamma, -1);
  const Kw = T.concat([s.winK, T.unsqueeze(k, 2)], 2); // [B, H, c, K]
  const Vw = T.concat([s.winV, T.unsqueeze(v, 2)], 2); // [B, H, c, V]
  const Gw = T.concat([s.winG, gamma], 2); // [B, H, c]
  const dp = biasGradient(cfg.bias, cfg.arch.predict(start, Kw), Vw); // [B, H, c, V]
  const grads = cfg.arch.tokenGrads(start, Kw, dp).map((g) => T.sum(T.mul(g, gateFor(Gw, g.rank - 3)), 2)); // [B, H, *shape]
  const params: Tensor[] = [];
  const momentum: Tensor[] = [];
  s.params.forEach((P, i) => {
    const rest = P.rank - 2;
    const step = T.mul(grads[i], gateFor(gates.eta, rest)); // eta_t G_t
    const kept = T.mul(P, gateFor(gates.alpha, rest)); // alpha_t P_{t-1}
    if (cfg.optimizer === "gd") {
      params.push(T.sub(kept, step));
      momentum.push(s.momentum[i]);
      return;
    }
    const S = T.sub(T.mul(s.momentum[i], gateFor(gates.theta, rest)), step); // theta_t S_{t-1} - eta_t G_t
    momentum.push(S);
    params.push(T.add(kept, cfg.optimizer === "muon" ? newtonSchulz(S, cfg.nsSteps) : S));
  });
  const o = T.squeeze(cfg.arch.predict(params, T.unsqueeze(q, 2)), 2); // [B, H, V]
  const c = cfg.window - 1;
  return {
    o,
    state: { params, start, momentum, winK: T.narrow(Kw, 2, 1, c), winV: T.narrow(Vw, 2, 1, c), winG: T.narrow(Gw, 2, 1, c), position: s.position + 1 },
  };
}

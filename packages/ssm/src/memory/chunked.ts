/**
 * The associative memory in parallel over each mini-batch (Titans section 3.2, ATLAS section
 * 5): inside an aligned block of n <= chunkSize tokens every gradient is taken at the block's
 * start P0, so the n per-token gradients come from one batched call, the Omega window is one
 * banded matmul, and the optimiser's recurrences are linear with scalar gates:
 *
 *   P_t = A_t P_prev + sum_{s<=t} D_alpha[t, s] U_s,   A_t = prod_{u<=t} alpha_u,
 *   D_alpha[t, s] = prod_{s<u<=t} alpha_u  (a masked decay matrix, as in retention)
 *
 * with U_s = -eta_s G_s (gd), S_s (momentum) or NS5(S_s) (muon), and S_t itself
 * S_t = Theta_t S_prev - sum_{s<=t} D_theta[t, s] eta_s G_s. Every token's parameters P_t are
 * materialised ([n, *shape] per head) to read o_t = M_{P_t}(q_t). Equal to recurrent.ts.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { decayMatrix } from "../linear/decay";
import { biasGradient } from "./bias";
import type { AssociativeState, ResolvedConfig } from "./config";
import { newtonSchulz } from "./newton-schulz";

/** Per-token gates of a block as [B, H, n] tensors. */
export interface BlockGates {
  eta: Tensor;
  alpha: Tensor;
  theta: Tensor;
  gamma: Tensor;
}

/** Band[t, j] = 1 where token t's window covers extended index j (t <= j <= t + c - 1). [n, n + c - 1] */
function band(n: number, c: number, backend: string): Tensor {
  const b = new Float32Array(n * (n + c - 1));
  for (let t = 0; t < n; t++) for (let j = t; j < t + c; j++) b[t * (n + c - 1) + j] = 1;
  return T.tensor(b, { shape: [n, n + c - 1], backend });
}

/** Y_t = A_t Y_prev + sum_{s<=t} D[t, s] X_s for a log-gate cumsum L [B, H, n]; X [B, H, n, P], Y_prev [B, H, P]. */
function linearScan(L: Tensor, X: Tensor, prev: Tensor): Tensor {
  const D = decayMatrix(L); // [B, H, n, n]
  return T.add(T.matmul(D, X), T.mul(T.unsqueeze(T.exp(L), -1), T.unsqueeze(prev, 2)));
}

/** One aligned block of n tokens: q, k [B, H, n, K]; v [B, H, n, V]. */
export function memoryBlock(cfg: ResolvedConfig, q: Tensor, k: Tensor, v: Tensor, g: BlockGates, s: AssociativeState): { o: Tensor; state: AssociativeState } {
  const [Bb, H, n] = q.shape;
  const c = cfg.window - 1;
  const start = s.position % cfg.chunkSize === 0 ? s.params : s.start;
  const Kx = T.concat([s.winK, k], 2); // [B, H, n + c, K] (window tokens, then the block)
  const Vx = T.concat([s.winV, v], 2);
  const Gx = T.concat([s.winG, g.gamma], 2); // [B, H, n + c]
  const dp = biasGradient(cfg.bias, cfg.arch.predict(start, Kx), Vx);
  const bandM = band(n, cfg.window, q.backend);
  const logOf = (x: Tensor) => T.cumsum(T.log(T.maximum(x, 1e-30)), 2); // cumulative log-gates [B, H, n]
  const logAlpha = logOf(g.alpha);
  const logTheta = logOf(g.theta);
  const params: Tensor[] = [];
  const momentum: Tensor[] = [];
  const perToken: Tensor[] = [];
  cfg.arch.tokenGrads(start, Kx, dp).forEach((gi, i) => {
    const shape = gi.shape.slice(3);
    const P = shape.reduce((a, b) => a * b, 1);
    const flat = (t: Tensor) => T.reshape(t, [Bb, H, t.shape[2], P]);
    const G = T.matmul(bandM, T.mul(flat(gi), T.unsqueeze(Gx, -1))); // [B, H, n, P] windowed sums
    const step = T.mul(G, T.unsqueeze(g.eta, -1)); // eta_t G_t
    const prevP = T.reshape(s.params[i], [Bb, H, P]);
    let Pt: Tensor;
    let S: Tensor;
    if (cfg.optimizer === "gd") {
      Pt = linearScan(logAlpha, T.neg(step), prevP);
      S = s.momentum[i];
    } else {
      const St = linearScan(logTheta, T.neg(step), T.reshape(s.momentum[i], [Bb, H, P])); // [B, H, n, P]
      const U = cfg.optimizer === "muon" ? flat(newtonSchulz(T.reshape(St, [Bb, H, n, ...shape]), cfg.nsSteps)) : St;
      Pt = linearScan(logAlpha, U, prevP);
      S = T.reshape(T.select(St, 2, n - 1), [Bb, H, ...shape]);
    }
    perToken.push(T.reshape(Pt, [Bb, H, n, ...shape]));
    params.push(T.reshape(T.select(Pt, 2, n - 1), [Bb, H, ...shape]));
    momentum.push(S);
  });
  const o = cfg.arch.readPerToken(perToken, q); // [B, H, n, V]
  return {
    o,
    state: { params, start, momentum, winK: T.narrow(Kx, 2, n, c), winV: T.narrow(Vx, 2, n, c), winG: T.narrow(Gx, 2, n, c), position: s.position + n },
  };
}

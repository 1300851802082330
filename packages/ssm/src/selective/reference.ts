/**
 * The selective scan as the literal recurrence, one time step at a time (the oracle for every
 * other form; mamba_ssm `selective_scan_ref`, Gu & Dao 2023, Algorithm 2):
 *
 *   dt_t = softplus(delta_t + deltaBias)
 *   x_t  = exp(dt_t A) * x_{t-1} + dt_t B_t u_t     (ZOH for A, Euler for B, as mamba_ssm)
 *   y_t  = C_t . x_t + D u_t ;  out_t = y_t * silu(z_t)
 *
 * Glossary (paper -> code): u (input x in the paper), Delta -> dt, A_bar -> exp(dt A),
 * B_bar u -> dt B u, h -> x (state, [B, D, N]).
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import type { ScanArgs } from "./args";
import { epilogue, perChannel, startState, stepSizes, type ScanResult } from "./common";

export function selectiveScanReference(a: ScanArgs): ScanResult {
  const { L } = a.dims;
  const dt = stepSizes(a); // [B, D, L]
  const Bt = perChannel(a.B, a.bLayout, a.dims.Dm); // [B|1, D|1, N, L|1]
  const Ct = perChannel(a.C, a.cLayout, a.dims.Dm);
  const at = (X: Tensor, t: number): Tensor => T.select(X, 3, X.shape[3] === 1 ? 0 : t); // [B|1, D|1, N]
  let x = startState(a); // [B, D, N]
  const ys: Tensor[] = [];
  for (let t = 0; t < L; t++) {
    const prev = x;
    // tidy frees this step's temporaries; the tape (when recording) keeps what it needs.
    [x, ys[t]] = T.tidy(() => {
      const dtT = T.unsqueeze(T.select(dt, 2, t), -1); // [B, D, 1]
      const uT = T.unsqueeze(T.select(a.u, 2, t), -1); // [B, D, 1]
      const dA = T.exp(T.mul(dtT, a.A)); // [B, D, N]
      const dBu = T.mul(T.mul(dtT, at(Bt, t)), uT); // [B, D, N]
      const next = T.add(T.mul(dA, prev), dBu); // x_t
      return [next, T.sum(T.mul(next, at(Ct, t)), -1)]; // y_t = C_t . x_t  [B, D]
    });
    if (prev !== a.h0) prev.dispose();
  }
  const y = epilogue(T.stack(ys, 2), a); // [B, D, L]
  T.dispose(ys);
  return { y, lastState: x };
}

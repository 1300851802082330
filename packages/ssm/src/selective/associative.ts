/**
 * The selective scan as a parallel prefix scan. Each step is an affine map x -> a_t x + b_t with
 * a_t = exp(dt_t A), b_t = dt_t B_t u_t; maps compose associatively,
 *   (a1, b1) then (a2, b2) = (a1 a2, a2 b1 + b2),
 * so log2(L) Hillis-Steele rounds (offset k = 1, 2, 4, ...) give every prefix (Blelloch 1990;
 * the parallel scan of Mamba's CUDA kernel and of S5, Smith et al. 2023). Work O(L log L D N),
 * fully parallel: a good fit for GPUs through ordinary ops.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import type { ScanArgs } from "./args";
import { epilogue, perChannel, startState, stepSizes, type ScanResult } from "./common";

/** x shifted k steps later along time (axis 2), filled with `fill`. [B, D, L, N] */
function shifted(x: Tensor, k: number, fill: number): Tensor {
  const L = x.shape[2];
  return T.pad(
    T.narrow(x, 2, 0, L - k),
    [
      [0, 0],
      [0, 0],
      [k, 0],
      [0, 0],
    ],
    fill,
  );
}

export function selectiveScanAssociative(a: ScanArgs): ScanResult {
  const { L, Dm } = a.dims;
  const dt = T.unsqueeze(stepSizes(a), -1); // [B, D, L, 1]
  const Bt = T.transpose(perChannel(a.B, a.bLayout, Dm), 2, 3); // [B|1, D|1, L|1, N]
  const Ct = T.transpose(perChannel(a.C, a.cLayout, Dm), 2, 3);
  let decay = T.exp(T.mul(dt, T.unsqueeze(a.A, 1))); // [B, D, L, N]  a_t
  let acc = T.mul(T.mul(dt, Bt), T.unsqueeze(a.u, -1)); // [B, D, L, N]  b_t
  for (let k = 1; k < L; k *= 2) {
    const [d0, a0] = [decay, acc];
    [decay, acc] = T.tidy(() => [T.mul(d0, shifted(d0, k, 1)), T.add(a0, T.mul(d0, shifted(a0, k, 0)))]);
    T.dispose([d0, a0]);
  }
  const x = T.add(acc, T.mul(decay, T.unsqueeze(startState(a), 2))); // [B, D, L, N]  x_t
  const y = epilogue(T.sum(T.mul(x, Ct), -1), a); // [B, D, L]
  return { y, lastState: T.select(x, 2, L - 1) };
}

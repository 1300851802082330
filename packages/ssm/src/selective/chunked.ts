/**
 * The selective scan in chunks of Q steps. Within a chunk, with the cumulative log-decay
 * c_t = sum_{s<=t} dt_s A (per channel and state), the recurrence unrolls to
 *
 *   x_t = exp(c_t) x_start + sum_{s<=t} exp(c_t - c_s) dt_s B_s u_s
 *
 * a masked [Q, Q] decay matrix applied by one batched matmul per chunk (the "segsum" of
 * Mamba-2's ssd_minimal, here with a decay per state as Mamba-1's A is [D, N]). The mask is
 * applied before exp (c_t - c_s > 0 above the diagonal), as flash-linear-attention's naive
 * references do. Chunk states are carried sequentially: work O(L Q D N), memory per chunk.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import type { ScanArgs } from "./args";
import { epilogue, perChannel, startState, stepSizes, type ScanResult } from "./common";

/** [Q, Q] boolean: t >= s. */
export function lowerMask(Q: number, backend: string): Tensor {
  return T.tidy(() => T.ge(T.reshape(T.arange(0, Q, 1, { backend }), [Q, 1]), T.reshape(T.arange(0, Q, 1, { backend }), [1, Q])));
}

export function selectiveScanChunked(a: ScanArgs, chunkSize: number): ScanResult {
  const { L, Dm } = a.dims;
  const dt = stepSizes(a); // [B, D, L]
  const dtA = T.mul(T.unsqueeze(dt, 2), T.unsqueeze(a.A, -1)); // [B, D, N, L] log-decay per step
  const dtu = T.unsqueeze(T.mul(dt, a.u), 2); // [B, D, 1, L]
  const Bt = perChannel(a.B, a.bLayout, Dm); // [B|1, D|1, N, L|1]
  const Ct = perChannel(a.C, a.cLayout, Dm);
  const win = (X: Tensor, s0: number, q: number): Tensor => (X.shape[3] === 1 ? X : T.narrow(X, 3, s0, q));
  let x = startState(a); // [B, D, N]
  const ys: Tensor[] = [];
  for (let s0 = 0; s0 < L; s0 += chunkSize) {
    const q = Math.min(chunkSize, L - s0);
    const prev = x;
    let yc: Tensor;
    [x, yc] = T.tidy(() => {
      const cum = T.cumsum(T.narrow(dtA, 3, s0, q), 3); // [B, D, N, q]  c_t
      const seg = T.sub(T.unsqueeze(cum, -1), T.unsqueeze(cum, -2)); // [B, D, N, q, q]  c_t - c_s
      const decay = T.exp(T.where(lowerMask(q, a.u.backend), seg, -Infinity)); // 0 above the diagonal
      const bu = T.mul(win(Bt, s0, q), T.narrow(dtu, 3, s0, q)); // [B, D, N, q]  dt_s B_s u_s
      const inner = T.squeeze(T.matmul(decay, T.unsqueeze(bu, -1)), -1); // [B, D, N, q]
      const xs = T.add(inner, T.mul(T.exp(cum), T.unsqueeze(prev, -1))); // [B, D, N, q]  x_t
      return [T.select(xs, 3, q - 1), T.sum(T.mul(xs, win(Ct, s0, q)), 2)]; // [B, D, N], y [B, D, q]
    });
    ys.push(yc);
    if (prev !== a.h0) prev.dispose();
  }
  const y = epilogue(ys.length === 1 ? ys[0] : T.concat(ys, 2), a); // [B, D, L]
  if (ys.length > 1) T.dispose(ys);
  return { y, lastState: x };
}

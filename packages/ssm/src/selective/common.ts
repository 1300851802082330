/**
 * Pieces every op-level form of the selective scan shares: the discretised step size, B and C
 * broadcast per channel, and the skip/gate epilogue.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import type { ProjLayout, ScanArgs } from "./args";

/** dt = softplus(delta + deltaBias) (or without the softplus). [B, D, L] */
export function stepSizes(a: ScanArgs): Tensor {
  const biased = a.deltaBias ? T.add(a.delta, T.reshape(a.deltaBias, [a.dims.Dm, 1])) : a.delta; // [B, D, L]
  return a.softplus ? T.softplus(biased) : biased;
}

/**
 * B or C broadcastable to [B, D, N, L]: [1, D, N, 1] (time-invariant), [B, 1, N, L] (shared)
 * or [B, D, N, L] (groups repeated over their D/G channels).
 */
export function perChannel(X: Tensor, layout: ProjLayout, Dm: number): Tensor {
  if (layout.kind === "time-invariant") return T.reshape(X, [1, Dm, X.shape[1], 1]);
  if (layout.kind === "shared") return T.unsqueeze(X, 1);
  const [Bb, G, N, L] = X.shape;
  const rep = T.expand(T.unsqueeze(X, 2), [Bb, G, Dm / G, N, L]); // [B, G, D/G, N, L]
  return T.reshape(T.contiguous(rep), [Bb, Dm, N, L]);
}

/** out = (y + D u) * silu(z). y [B, D, L] */
export function epilogue(y: Tensor, a: ScanArgs): Tensor {
  let out = a.D ? T.add(y, T.mul(a.u, T.reshape(a.D, [a.dims.Dm, 1]))) : y;
  if (a.z) out = T.mul(out, T.silu(a.z));
  return out;
}

/** The zero state [B, D, N], or the given initial state. */
export function startState(a: ScanArgs): Tensor {
  return a.h0 ?? T.zeros([a.dims.Bb, a.dims.Dm, a.dims.N], { backend: a.u.backend });
}

export interface ScanResult {
  /** [B, D, L] */
  y: Tensor;
  /** The state after the last step. [B, D, N] */
  lastState: Tensor;
}

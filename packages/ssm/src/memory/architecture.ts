/**
 * Memory architectures (Miras's first axis): what maps a key to a prediction, and the
 * per-token gradient of the inner loss with respect to the memory's own parameters, written
 * out (no nested autograd), so the outer autograd differentiates through plain ops.
 *
 *   matrix   M(k) = W^T k                      W [K, V]
 *            dW = k (dl/dp)^T
 *   mlp      M(k) = silu(k W1) W2 [+ k]        W1 [K, Dh], W2 [Dh, V] (Titans' deep memory)
 *            dW2 = a (dl/dp)^T,  dh = (dl/dp W2^T) * silu'(h),  dW1 = k dh^T
 *
 * Parameters carry leading batch dims [B, H]; "per token" tensors add a token axis after them.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fail } from "../util";

export type MemoryArchitecture = "matrix" | { mlp: { hidden: number; residual?: boolean } };

export interface Arch {
  /** Parameter shapes (without leading dims). */
  shapes(K: number, V: number): number[][];
  /** Predictions [..., n, V] for keys [..., n, K] with shared params [..., *shape]. */
  predict(params: Tensor[], keys: Tensor): Tensor;
  /** Per-token parameter gradients [..., n, *shape] given dl/dp [..., n, V]. */
  tokenGrads(params: Tensor[], keys: Tensor, dp: Tensor): Tensor[];
  /** Reads one query per token with that token's params: params [..., n, *shape], q [..., n, K] -> [..., n, V]. */
  readPerToken(params: Tensor[], q: Tensor): Tensor;
}

const outer = (a: Tensor, b: Tensor): Tensor => T.mul(T.unsqueeze(a, -1), T.unsqueeze(b, -2)); // [..., n, A, B]
/** x [..., n, A] times per-token matrices [..., n, A, B] -> [..., n, B] */
const rowTimes = (x: Tensor, M: Tensor): Tensor => T.squeeze(T.matmul(T.unsqueeze(x, -2), M), -2);

const matrix: Arch = {
  shapes: (K, V) => [[K, V]],
  predict: ([W], keys) => T.matmul(keys, W),
  tokenGrads: (_params, keys, dp) => [outer(keys, dp)],
  readPerToken: ([W], q) => rowTimes(q, W),
};

function silu1(h: Tensor): Tensor {
  const s = T.sigmoid(h);
  return T.mul(s, T.add(T.mul(h, T.sub(1, s)), 1)); // silu'(h) = s (1 + h (1 - s))
}

function mlp(hidden: number, residual: boolean): Arch {
  return {
    shapes: (K, V) => {
      if (residual && K !== V) fail("associativeMemory", `a residual MLP memory needs key and value widths equal, got ${K} and ${V}`);
      return [
        [K, hidden],
        [hidden, V],
      ];
    },
    predict: ([W1, W2], keys) => {
      const p = T.matmul(T.silu(T.matmul(keys, W1)), W2);
      return residual ? T.add(p, keys) : p;
    },
    tokenGrads: ([W1, W2], keys, dp) => {
      const h = T.matmul(keys, W1); // [..., n, Dh]
      const dh = T.mul(T.matmul(dp, T.transpose(W2, -1, -2)), silu1(h));
      return [outer(keys, dh), outer(T.silu(h), dp)];
    },
    readPerToken: ([W1, W2], q) => {
      const p = rowTimes(T.silu(rowTimes(q, W1)), W2);
      return residual ? T.add(p, q) : p;
    },
  };
}

export function architecture(a: MemoryArchitecture): Arch {
  if (a === "matrix") return matrix;
  if (typeof a === "object" && a && "mlp" in a && Number.isInteger(a.mlp.hidden) && a.mlp.hidden > 0) return mlp(a.mlp.hidden, a.mlp.residual ?? false);
  fail("associativeMemory", `unknown memory architecture ${JSON.stringify(a)} ('matrix' or { mlp: { hidden } })`);
}

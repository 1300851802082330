/**
 * Cumulative sums and products along an axis (optionally reversed or exclusive).
 */
import { isFloat } from "../core/dtype";
import { tidy } from "../core/engine";
import { normAxis } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { arange } from "./creation";
import { eq, ge, gt, le, lt, mul, where } from "./elementwise";
import { sum } from "./reduce";
import { asTensor, backendOf, wrap, type TensorLike } from "./util";
import { expand, transpose, unsqueeze } from "./view";

export interface ScanOptions {
  /** Accumulate from the end of the axis. */
  reverse?: boolean;
  /** Leave out the current element: out[i] = x[0] op ... op x[i-1] (the identity at i = 0). */
  exclusive?: boolean;
}

/** One scan op: kernel call and recording; small integer types accumulate in int32. */
function scan(
  op: "cumsum" | "cumprod",
  x: TensorLike,
  axis: number,
  opts: ScanOptions,
  backward: (dy: Tensor, x: Tensor, axis: number, reverse: boolean, exclusive: boolean) => Tensor,
): Tensor {
  const t0 = asTensor(op, "x", x);
  const t = isFloat(t0.dtype) || t0.dtype === "int32" ? t0 : cast(t0, "int32");
  const be = backendOf(op, t);
  const a = normAxis(op, axis, t.rank);
  const reverse = !!opts.reverse;
  const exclusive = !!opts.exclusive;
  const y = wrap(be, be.cumulative(op === "cumsum" ? "sum" : "prod", t.view(), a, reverse, exclusive), t.shape, t.dtype);
  const out = record(op, [t], y, (dy, [xi]) => [backward(dy, xi, a, reverse, exclusive)]);
  if (t !== t0) t.dispose();
  return out;
}

// The adjoint of a sum scan is the scan in the other direction, with the same exclusivity.
export const cumsum = (x: TensorLike, axis: number, opts: ScanOptions = {}): Tensor =>
  scan("cumsum", x, axis, opts, (dy, _x, a, reverse, exclusive) => cumsum(dy, a, { reverse: !reverse, exclusive }));

export const cumprod = (x: TensorLike, axis: number, opts: ScanOptions = {}): Tensor => scan("cumprod", x, axis, opts, cumprodGrad);

/**
 * Zero-safe gradient of y_j = prod_{k in S(j)} x_k:
 *   dL/dx_i = sum_j dy_j [i in S(j)] prod_{k in S(j), k != i} x_k.
 * Row i of an n x n block holds x with x_i replaced by 1; scanning each row the same way gives
 * the products without x_i, with no division (so zeros in x are fine). Costs O(n^2) per line.
 */
function cumprodGrad(dy: Tensor, x: Tensor, axis: number, reverse: boolean, exclusive: boolean): Tensor {
  return tidy(() => {
    const n = x.shape[axis];
    const xl = transpose(x, axis, -1); // [..., n] with the scan axis last
    const dyl = transpose(dy, axis, -1);
    const lead = xl.shape.slice(0, -1);
    const i = unsqueeze(arange(n), 1); // [n, 1]: row i
    const k = unsqueeze(arange(n), 0); // [1, n]: position k (and j)
    const rows = where(eq(i, k), 1, expand(unsqueeze(xl, -2), [...lead, n, n])); // [..., i, k]
    const without = cumprod(rows, -1, { reverse, exclusive }); // [..., i, j]
    // [i in S(j)]: S(j) = {k<=j}, {k<j}, {k>=j}, {k>j} for the four scan variants.
    const inS = reverse ? (exclusive ? gt(i, k) : ge(i, k)) : exclusive ? lt(i, k) : le(i, k);
    const terms = mul(mul(without, cast(inS, x.dtype)), unsqueeze(dyl, -2)); // [..., i, j]
    return transpose(sum(terms, -1), axis, -1);
  });
}

/**
 * Sorting and top-k along an axis (stable; NaN sorts as the largest value).
 */
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { normAxis } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { zeros } from "./creation";
import { scatterAdd } from "./indexing";
import { asTensor, backendOf, wrap, type TensorLike } from "./util";
import { transpose } from "./view";

export interface SortResult {
  values: Tensor;
  /** int32 positions in the input along the axis. */
  indices: Tensor;
}

function byLastAxis(op: string, x: Tensor, axis: number, k: number, run: (v: Tensor) => { values: unknown; indices: unknown }): SortResult {
  const be = backendOf(op, x);
  const a = normAxis(op, axis, x.rank);
  const last = x.rank - 1;
  return tidy(() => {
    const src = a === last ? x : transpose(x, a, last);
    const shape = [...src.shape.slice(0, -1), k];
    const r = run(src);
    const values = wrap(be, r.values, shape, x.dtype);
    const indices = wrap(be, r.indices, shape, "int32");
    const srcShape = src.shape;
    // The gradient of a permutation-selection scatters dy back to where the values came from.
    const v = record(op, [src, indices], values, (dy, [, ix]) => [scatterAdd(zeros(srcShape, { dtype: dy.dtype, backend: dy.backend }), -1, ix, dy), null]);
    return a === last ? { values: v, indices } : { values: transpose(v, a, last), indices: transpose(indices, a, last) };
  });
}

export function sort(x: TensorLike, axis = -1, descending = false): SortResult {
  const t = asTensor("sort", "x", x);
  if (t.rank === 0) fail("sort", "x must have at least 1 dim");
  const be = backendOf("sort", t);
  const n = t.shape[normAxis("sort", axis, t.rank)];
  return byLastAxis("sort", t, axis, n, (v) => be.sort(v.view(), descending));
}

export function argsort(x: TensorLike, axis = -1, descending = false): Tensor {
  const { values, indices } = sort(x, axis, descending);
  values.dispose();
  return indices;
}

/** The k largest (or smallest) entries along `axis`, sorted. */
export function topk(x: TensorLike, k: number, axis = -1, largest = true): SortResult {
  const t = asTensor("topk", "x", x);
  if (t.rank === 0) fail("topk", "x must have at least 1 dim");
  const be = backendOf("topk", t);
  const n = t.shape[normAxis("topk", axis, t.rank)];
  if (!Number.isInteger(k) || k < 0 || k > n) fail("topk", `k ${k} is out of range for axis of size ${n} in ${fmtShape(t.shape)}`);
  return byLastAxis("topk", t, axis, k, (v) => be.topk(v.view(), k, largest));
}

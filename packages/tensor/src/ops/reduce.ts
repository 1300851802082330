/**
 * Reductions over any axes with keepdims: sum, mean, prod, max, min, argmax, argmin, var, std,
 * logsumexp, any, all; and sumTo (the adjoint of broadcasting).
 */
import type { ReduceOp } from "../backend/backend";
import { isFloat, type DType } from "../core/dtype";
import { fail, fmtShape } from "../core/errors";
import { normAxes, normAxis, sizeOf } from "../core/shape";
import { record, withoutRecording } from "../core/tape";
import { tidy } from "../core/engine";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { add, div, eq, exp, isinf, log, mul, sqrt, square, sub, where } from "./elementwise";
import { cumprod } from "./scan";
import { asTensor, backendOf, wrap, type TensorLike } from "./util";
import { expand, permute, reshape } from "./view";

export interface ReduceOptions {
  keepdims?: boolean;
}

type Axes = number | readonly number[] | undefined;

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceKernel(op: ReduceOp, t: Tensor, axes: readonly number[], outDtype: DType, keepdims: boolean): Tensor {
  const be = backendOf(op, t);
  const shape = t.shape.filter((_, i) => !axes.includes(i));
  const y = wrap(be, be.reduce(op, t.view(), axes, outDtype), shape, outDtype);
  if (!keepdims) return y;
  const k = reshape(y, keptShape(t.shape, axes));
  y.dispose();
  return k;
}

/** dy of a reduction, brought back to the input's shape (expanded over the reduced axes). */
function spread(dy: Tensor, inShape: readonly number[], axes: readonly number[]): Tensor {
  return expand(reshape(dy, keptShape(inShape, axes)), inShape);
}

function sumDtype(d: DType): DType {
  return isFloat(d) ? d : "int32";
}

export function sum(x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const t = asTensor("sum", "x", x);
  const ax = normAxes("sum", axes, t.rank);
  const y = reduceKernel("sum", t, ax, sumDtype(t.dtype), !!opts.keepdims);
  return record("sum", [t], y, (dy, [a]) => [spread(dy, a.shape, ax)]);
}

export function mean(x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const t = asTensor("mean", "x", x);
  const ax = normAxes("mean", axes, t.rank);
  const n = sizeOf(ax.map((i) => t.shape[i]));
  const ct = isFloat(t.dtype) ? t : cast(t, "float32");
  const y = reduceKernel("mean", ct, ax, ct.dtype, !!opts.keepdims);
  const out = record("mean", [ct], y, (dy, [a]) => [div(spread(dy, a.shape, ax), n)]);
  if (ct !== t) ct.dispose();
  return out;
}

/** Product; the gradient is zero-safe: d/dx_i = prod_{j != i} x_j (exclusive cumprods). */
export function prod(x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const t = asTensor("prod", "x", x);
  const ax = normAxes("prod", axes, t.rank);
  const y = reduceKernel("prod", t, ax, sumDtype(t.dtype), !!opts.keepdims);
  return record("prod", [t], y, (dy, [a]) => {
    // Move reduced axes last and flatten them: [...kept, R].
    const kept = a.shape.map((_, i) => i).filter((i) => !ax.includes(i));
    const perm = [...kept, ...ax];
    const flat = reshape(permute(a, perm), [...kept.map((i) => a.shape[i]), -1]);
    const others = mul(cumprod(flat, -1, { exclusive: true }), cumprod(flat, -1, { exclusive: true, reverse: true }));
    const back = reshape(
      others,
      perm.map((i) => a.shape[i]),
    );
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [mul(spread(dy, a.shape, ax), permute(back, inv))];
  });
}

/** max/min: the gradient goes to the extremal entries, split evenly among ties (as amax). */
function extremum(op: "max" | "min", x: TensorLike, axes: Axes, opts: ReduceOptions): Tensor {
  const t = asTensor(op, "x", x);
  if (t.size === 0) fail(op, `cannot reduce an empty tensor ${fmtShape(t.shape)}`);
  const ax = normAxes(op, axes, t.rank);
  const y = reduceKernel(op, t, ax, t.dtype, !!opts.keepdims);
  return record(op, [t], y, (dy, [a], yy) => {
    const mask = cast(eq(a, spread(yy, a.shape, ax)), dy.dtype);
    const count = sum(mask, ax, { keepdims: true });
    return [div(mul(spread(dy, a.shape, ax), mask), count)];
  });
}

export const max = (x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor => extremum("max", x, axes, opts);
export const min = (x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor => extremum("min", x, axes, opts);

function argExtremum(op: "argmax" | "argmin", x: TensorLike, axis: number | undefined, opts: ReduceOptions): Tensor {
  const t = asTensor(op, "x", x);
  if (t.size === 0) fail(op, `cannot reduce an empty tensor ${fmtShape(t.shape)}`);
  const be = backendOf(op, t);
  return tidy(() => {
    // axis undefined: the index into the flattened tensor.
    const src = axis === undefined ? reshape(t, [t.size]) : t;
    const a = normAxis(op, axis ?? 0, src.rank);
    const y = wrap(
      be,
      be.argReduce(op, src.view(), a),
      src.shape.filter((_, i) => i !== a),
      "int32",
    );
    if (!opts.keepdims) return y;
    return reshape(y, axis === undefined ? t.shape.map(() => 1) : keptShape(t.shape, [a]));
  });
}

/** Index of the largest value along `axis` (first on ties; NaN counts as largest). */
export const argmax = (x: TensorLike, axis?: number, opts: ReduceOptions = {}): Tensor => argExtremum("argmax", x, axis, opts);
export const argmin = (x: TensorLike, axis?: number, opts: ReduceOptions = {}): Tensor => argExtremum("argmin", x, axis, opts);

export function any(x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const t = asTensor("any", "x", x);
  return reduceKernel("any", t, normAxes("any", axes, t.rank), "bool", !!opts.keepdims);
}

export function all(x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const t = asTensor("all", "x", x);
  return reduceKernel("all", t, normAxes("all", axes, t.rank), "bool", !!opts.keepdims);
}

export interface VarOptions extends ReduceOptions {
  /** Subtracted from the count in the denominator: 1 = unbiased (torch default), 0 = biased. */
  correction?: number;
}

export function variance(x: TensorLike, axes?: Axes, opts: VarOptions = {}): Tensor {
  const t = asTensor("var", "x", x);
  const ax = normAxes("var", axes, t.rank);
  const n = sizeOf(ax.map((i) => t.shape[i]));
  const c = opts.correction ?? 1;
  return tidy(() => {
    const d = sub(t, mean(t, ax, { keepdims: true }));
    return div(sum(square(d), ax, { keepdims: opts.keepdims }), Math.max(n - c, 0));
  });
}

export function std(x: TensorLike, axes?: Axes, opts: VarOptions = {}): Tensor {
  return tidy(() => sqrt(variance(x, axes, opts)));
}

/** log(sum(exp(x))) computed stably around the max (infinite maxima are handled as PyTorch). */
export function logsumexp(x: TensorLike, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  const t = asTensor("logsumexp", "x", x);
  const ax = normAxes("logsumexp", axes, t.rank);
  // The shift m is a constant for autograd: the result does not depend on it.
  return tidy(() => {
    const m = withoutRecording(() => {
      const raw = max(t, ax, { keepdims: true });
      return where(isinf(raw), 0, raw);
    });
    const y = add(log(sum(exp(sub(t, m)), ax, { keepdims: true })), m);
    return opts.keepdims
      ? y
      : reshape(
          y,
          t.shape.filter((_, i) => !ax.includes(i)),
        );
  });
}

/** Sums a broadcast result back to `shape` (the gradient of broadcasting). */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  if (x.rank === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  const lead = x.rank - shape.length;
  if (lead < 0) fail("sumTo", `cannot sum ${fmtShape(x.shape)} to the larger shape ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && x.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== x.shape[i]) fail("sumTo", `cannot sum ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  return tidy(() => reshape(sum(x, axes, { keepdims: true }), shape));
}

/**
 * Tensor creation: from values, constants, ranges, identity.
 */
import { isDType, type DType } from "../core/dtype";
import { backendInstance } from "../core/engine";
import { fail } from "../core/errors";
import { sizeOf, validateShape } from "../core/shape";
import type { NestedArray, Tensor } from "../core/tensor";
import { fromValues, tensorFrom, wrap, type TensorOptions, type TypedArray } from "./util";

export type { TensorOptions } from "./util";

/**
 * Makes a tensor from nested arrays, a typed array or a number. The dtype is inferred
 * (Float32Array/numbers -> float32, Int32Array -> int32, booleans -> bool, ...) unless given.
 */
export function tensor(values: NestedArray | TypedArray, opts: TensorOptions = {}): Tensor {
  return tensorFrom("tensor", values, opts);
}

/** A 0-d tensor. */
export function scalar(value: number | boolean, dtype?: DType): Tensor {
  return tensorFrom("scalar", value, { dtype });
}

export interface CreateOptions {
  dtype?: DType;
  backend?: string;
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  const s = validateShape("full", shape);
  const dtype = opts.dtype ?? "float32";
  if (!isDType(dtype)) fail("full", `unknown dtype '${String(dtype)}'`);
  const be = backendInstance(opts.backend);
  return wrap(be, be.fill(sizeOf(s), dtype, value), s, dtype);
}

export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 1, opts);

export function fullLike(x: Tensor, value: number, opts: CreateOptions = {}): Tensor {
  return full(x.shape, value, { dtype: opts.dtype ?? x.dtype, backend: opts.backend ?? x.backend });
}

export const zerosLike = (x: Tensor, opts: CreateOptions = {}): Tensor => fullLike(x, 0, opts);
export const onesLike = (x: Tensor, opts: CreateOptions = {}): Tensor => fullLike(x, 1, opts);

/**
 * [start, start+step, ...) up to `end` (exclusive). `arange(n)` is 0..n-1 as int32; any
 * non-integer argument makes float32 unless a dtype is given.
 */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  if (step === 0 || !Number.isFinite(step)) fail("arange", `step must be a finite non-zero number, got ${step}`);
  if (!Number.isFinite(s) || !Number.isFinite(e)) fail("arange", `start ${s} and end ${e} must be finite`);
  const n = Math.max(0, Math.ceil((e - s) / step));
  const dtype = opts.dtype ?? ([s, e, step].every(Number.isInteger) ? "int32" : "float32");
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = s + i * step;
  return fromValues(values, [n], dtype, backendInstance(opts.backend));
}

/** `steps` evenly spaced values from start to end inclusive (float32). */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) fail("linspace", `steps must be a non-negative integer, got ${steps}`);
  const values = new Float64Array(steps);
  const d = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) values[i] = i === steps - 1 && steps > 1 ? end : start + i * d;
  return fromValues(values, [steps], opts.dtype ?? "float32", backendInstance(opts.backend));
}

/** n x m identity (ones on the diagonal). */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  validateShape("eye", [n, m]);
  const values = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return fromValues(values, [n, m], opts.dtype ?? "float32", backendInstance(opts.backend));
}

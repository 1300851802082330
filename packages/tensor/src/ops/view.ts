/**
 * Shape ops that return views sharing storage where the strides allow (reshape, permute,
 * transpose, expand, squeeze, unsqueeze, slice, narrow, select) and copy only when they must.
 */
import { fail, fmtShape } from "../core/errors";
import { contiguousStrides, normAxes, normAxis, sizeOf, validateShape } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { sumTo } from "./reduce";
import { backendOf, viewOf, wrap } from "./util";

/** Resolves one -1 entry. */
function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) fail(op, `shape ${fmtShape(shape)} has more than one -1`);
  if (neg === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const i = out.indexOf(-1);
    if (known === 0 || x.size % known !== 0) fail(op, `cannot infer -1 in ${fmtShape(shape)} for a tensor of ${x.size} elements ${fmtShape(x.shape)}`);
    out[i] = x.size / known;
  }
  validateShape(op, out);
  if (sizeOf(out) !== x.size) fail(op, `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)} (${sizeOf(out)} elements)`);
  return out;
}

/**
 * Strides for viewing (shape, strides) as newShape without a copy, or null when impossible.
 * This is PyTorch's computeStride: old dims are grouped into chunks that are contiguous within
 * themselves, and each chunk must map onto a run of new dims with the same element count.
 */
function viewStrides(shape: readonly number[], strides: readonly number[], newShape: readonly number[]): number[] | null {
  if (sizeOf(shape) === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length).fill(1);
  let viewD = newShape.length - 1;
  let chunkBaseStride = strides[strides.length - 1];
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    const chunkEnds = d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBaseStride);
    if (!chunkEnds) continue;
    while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
      out[viewD] = viewNumel * chunkBaseStride;
      viewNumel *= newShape[viewD];
      viewD--;
    }
    if (viewNumel !== tensorNumel) return null;
    if (d > 0) {
      chunkBaseStride = strides[d - 1];
      tensorNumel = 1;
      viewNumel = 1;
    }
  }
  return viewD === -1 ? out : null;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  backendOf("reshape", x);
  const newShape = resolveShape("reshape", x, shape);
  const st = x.isContiguous ? contiguousStrides(newShape) : viewStrides(x.shape, x.strides, newShape);
  // A copy is laid out in x's row-major order, which is exactly the reshaped layout.
  const b = x.storage.backend;
  const y = st ? viewOf(x, newShape, st, x.offset) : wrap(b, b.copy(x.view(), x.dtype), newShape, x.dtype);
  const inShape = x.shape;
  return record("reshape", [x], y, (dy) => [reshape(dy, inShape)]);
}

export function contiguous(x: Tensor): Tensor {
  backendOf("contiguous", x);
  if (x.isContiguous) return record("contiguous", [x], viewOf(x, x.shape, x.strides, x.offset), (dy) => [dy]);
  const b = x.storage.backend;
  const y = wrap(b, b.copy(x.view(), x.dtype), x.shape, x.dtype);
  return record("contiguous", [x], y, (dy) => [dy]);
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  backendOf("permute", x);
  if (axes.length !== x.rank) fail("permute", `axes [${axes.join(",")}] must list all ${x.rank} axes of ${fmtShape(x.shape)}`);
  const ax = axes.map((a) => normAxis("permute", a, x.rank, "axes"));
  if (new Set(ax).size !== ax.length) fail("permute", `axes [${axes.join(",")}] repeat an axis`);
  const y = viewOf(
    x,
    ax.map((a) => x.shape[a]),
    ax.map((a) => x.strides[a]),
    x.offset,
  );
  const inverse = new Array<number>(ax.length);
  ax.forEach((a, i) => (inverse[a] = i));
  return record("permute", [x], y, (dy) => [permute(dy, inverse)]);
}

/** Swaps two axes (default: the last two). */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  if (x.rank < 2 && axis0 === -2 && axis1 === -1) fail("transpose", `needs at least 2 dims, got ${fmtShape(x.shape)}`);
  const a = normAxis("transpose", axis0, x.rank, "axis0");
  const b = normAxis("transpose", axis1, x.rank, "axis1");
  const axes = x.shape.map((_, i) => i);
  axes[a] = b;
  axes[b] = a;
  return permute(x, axes);
}

/** Broadcasts to `shape` without copying (stride 0 on expanded axes); -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  backendOf("expand", x);
  if (shape.length < x.rank) fail("expand", `cannot expand ${fmtShape(x.shape)} to fewer dims ${fmtShape(shape)}`);
  const lead = shape.length - x.rank;
  const outShape: number[] = [];
  const strides: number[] = [];
  shape.forEach((d, i) => {
    const j = i - lead;
    const src = j >= 0 ? x.shape[j] : 1;
    const size = d === -1 ? src : d;
    if (j >= 0 && src !== 1 && src !== size) fail("expand", `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)} (axis ${i}: ${src} vs ${d})`);
    if (!Number.isInteger(size) || size < 0) fail("expand", `invalid size ${d} at axis ${i} in ${fmtShape(shape)}`);
    outShape.push(size);
    strides.push(j >= 0 && src === size ? x.strides[j] : 0);
  });
  const y = viewOf(x, outShape, strides, x.offset);
  const inShape = x.shape;
  return record("expand", [x], y, (dy) => [sumTo(dy, inShape)]);
}

export const broadcastTo = expand;

/** Removes size-1 axes (all of them, or the ones named). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  backendOf("squeeze", x);
  const list = axes === undefined ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0) : normAxes("squeeze", axes, x.rank);
  for (const a of list) if (x.shape[a] !== 1) fail("squeeze", `axis ${a} of ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`);
  const keepAx = x.shape.map((_, i) => i).filter((i) => !list.includes(i));
  const y = viewOf(
    x,
    keepAx.map((i) => x.shape[i]),
    keepAx.map((i) => x.strides[i]),
    x.offset,
  );
  const inShape = x.shape;
  return record("squeeze", [x], y, (dy) => [reshape(dy, inShape)]);
}

/** Inserts a size-1 axis at `axis` (negative counts from the end of the result). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  backendOf("unsqueeze", x);
  const a = normAxis("unsqueeze", axis, x.rank + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, a < x.rank ? x.strides[a] * x.shape[a] : 1);
  const y = viewOf(x, shape, strides, x.offset);
  const inShape = x.shape;
  return record("unsqueeze", [x], y, (dy) => [reshape(dy, inShape)]);
}

/** Flattens axes start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis("flatten", start, x.rank, "start");
  const e = normAxis("flatten", end, x.rank, "end");
  if (s > e) fail("flatten", `start ${start} comes after end ${end} for ${fmtShape(x.shape)}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/** One axis of a slice: an index (removes the axis), null (whole axis) or a range with step. */
export type SliceSpec = number | null | readonly [start?: number | null, end?: number | null, step?: number] | { start?: number; end?: number; step?: number };

interface Range {
  start: number;
  length: number;
  step: number;
  drop: boolean;
}

function resolveRange(spec: SliceSpec, size: number, axis: number): Range {
  if (spec === null || spec === undefined) return { start: 0, length: size, step: 1, drop: false };
  if (typeof spec === "number") {
    if (!Number.isInteger(spec) || spec < -size || spec >= size) fail("slice", `index ${spec} is out of range for axis ${axis} of size ${size}`);
    return { start: spec < 0 ? spec + size : spec, length: 1, step: 1, drop: true };
  }
  const [s0, e0, st] = Array.isArray(spec) ? spec : [(spec as { start?: number }).start, (spec as { end?: number }).end, (spec as { step?: number }).step];
  const step = st ?? 1;
  if (!Number.isInteger(step) || step <= 0) fail("slice", `step ${step} on axis ${axis} must be a positive integer (negative steps are not supported)`);
  const clampIdx = (v: number | null | undefined, dflt: number): number => {
    if (v === null || v === undefined) return dflt;
    const r = v < 0 ? v + size : v;
    return Math.min(Math.max(r, 0), size);
  };
  const start = clampIdx(s0, 0);
  const end = clampIdx(e0, size);
  const length = end > start ? Math.ceil((end - start) / step) : 0;
  return { start, length, step, drop: false };
}

/**
 * NumPy-style basic slicing as a view: `slice(x, [0, null, [1, -1], [0, null, 2]])`.
 * Missing trailing specs mean whole axes.
 */
export function slice(x: Tensor, specs: readonly SliceSpec[]): Tensor {
  backendOf("slice", x);
  if (specs.length > x.rank) fail("slice", `${specs.length} specs for a tensor of rank ${x.rank} ${fmtShape(x.shape)}`);
  const ranges = x.shape.map((d, i) => resolveRange(specs[i] ?? null, d, i));
  let offset = x.offset;
  const shape: number[] = [];
  const strides: number[] = [];
  ranges.forEach((r, i) => {
    offset += r.start * x.strides[i];
    if (r.drop) return;
    shape.push(r.length);
    strides.push(x.strides[i] * r.step);
  });
  const y = viewOf(x, shape, strides, offset);
  const inShape = x.shape;
  return record("slice", [x], y, (dy) => [embedSlice(dy, inShape, ranges)]);
}

/** The adjoint of slice: zeros of `inShape` with dy written where the slice read. */
function embedSlice(dy: Tensor, inShape: readonly number[], ranges: readonly Range[]): Tensor {
  const b = backendOf("slice.backward", dy);
  const data = b.fill(sizeOf(inShape), dy.dtype, 0);
  const full = contiguousStrides(inShape);
  let offset = 0;
  const shape: number[] = [];
  const strides: number[] = [];
  ranges.forEach((r, i) => {
    offset += r.start * full[i];
    shape.push(r.length);
    strides.push(full[i] * r.step);
  });
  const src = reshape(dy, shape);
  b.write({ data, dtype: dy.dtype, shape, strides, offset }, src.view());
  src.dispose();
  const y = wrap(b, data, inShape, dy.dtype);
  return record("slice.backward", [dy], y, (g) => [
    reshape(
      slice(
        g,
        ranges.map((r) => (r.drop ? r.start : ([r.start, r.start + r.length * r.step, r.step] as const))),
      ),
      dy.shape,
    ),
  ]);
}

/** `length` entries of `axis` starting at `start`, as a view. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis("narrow", axis, x.rank);
  const size = x.shape[a];
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size) {
    fail("narrow", `start ${start} and length ${length} do not fit axis ${a} of size ${size} in ${fmtShape(x.shape)}`);
  }
  const specs: SliceSpec[] = x.shape.map(() => null);
  specs[a] = [s, s + length];
  return slice(x, specs);
}

/** Index `index` of `axis`, removing the axis (a view). */
export function select(x: Tensor, axis: number, index: number): Tensor {
  const a = normAxis("select", axis, x.rank);
  const specs: SliceSpec[] = x.shape.map(() => null);
  specs[a] = index;
  return slice(x, specs);
}

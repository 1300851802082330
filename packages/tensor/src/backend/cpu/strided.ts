/**
 * Strided iteration for the cpu kernels. Kernels walk their output in row-major order one
 * "row" (the innermost run after merging dims) at a time, so the per-element work is a plain
 * loop and the index arithmetic happens once per row.
 */
import { f32ToHalf, halfToF32, isHalf, type DataArray, type DType, type StorageArray } from "../../core/dtype";
import { takeStorage } from "./pool";
import { contiguousStrides, isContiguous, sizeOf } from "../../core/shape";
import type { View } from "../backend";
import { CPU_ELEMENTWISE, registeredCpuKernel, type CpuElementwiseKernel } from "./registered";
import { wasmFits, wasmKernels } from "./wasm/runtime";

export type CpuView = View<StorageArray>;

/** A view's elements as a compute array (float32 for half storage) plus strides and offset. */
export interface Operand {
  arr: DataArray;
  strides: readonly number[];
  offset: number;
}

/** Decodes half storage (only the span the view touches); other dtypes are used in place. */
export function operand(v: CpuView): Operand {
  if (!isHalf(v.dtype)) return { arr: v.data as DataArray, strides: v.strides, offset: v.offset };
  let hi = v.offset;
  for (let d = 0; d < v.shape.length; d++) {
    if (v.shape[d] === 0) return { arr: new Float32Array(0), strides: v.strides, offset: 0 };
    hi += (v.shape[d] - 1) * v.strides[d];
  }
  const span = (v.data as Uint16Array).subarray(v.offset, hi + 1);
  return { arr: halfToF32(v.dtype as "float16" | "bfloat16", span), strides: v.strides, offset: 0 };
}

/** A contiguous compute array of the view's values (no copy when already contiguous). */
export function contiguousValues(v: CpuView): DataArray {
  const op = operand(v);
  const n = sizeOf(v.shape);
  if (isContiguous(v.shape, op.strides)) {
    return op.offset === 0 && op.arr.length === n ? op.arr : (op.arr.subarray(op.offset, op.offset + n) as DataArray);
  }
  if (op.arr instanceof Float32Array && n >= REGISTERED_COPY_MIN_ELEMS) {
    const k = registeredCpuKernel<CpuElementwiseKernel>(CPU_ELEMENTWISE);
    const out = k ? new Float32Array(n) : null;
    if (k && out && k.copy(op.arr, op.offset, v.shape, op.strides, out, 0, contiguousStrides(v.shape))) return out;
  }
  const transposed = op.arr instanceof Float32Array && n >= TRANSPOSE_MIN_ELEMS ? transposedCopy(v.shape, op.strides, op.offset, op.arr, n) : null;
  if (transposed) return transposed;
  const out = new (op.arr.constructor as new (n: number) => DataArray)(n);
  const short = shortRows(v.shape, op.strides);
  if (short) {
    const { rows, n: len, rowStride, step } = short;
    for (let r = 0, o = 0; r < rows; r++) for (let i = 0, j = op.offset + r * rowStride; i < len; i++, j += step) out[o++] = op.arr[j];
    return out;
  }
  forEachRow(v.shape, [op.strides], [op.offset], (o, offs, len, inner) => {
    const s = inner[0];
    let j = offs[0];
    if (s === 1 && len > 8)
      out.set(op.arr.subarray(j, j + len) as never, o); // memcpy for unit-stride rows
    else for (let i = 0; i < len; i++, j += s) out[o + i] = op.arr[j];
  });
  return out;
}

/** Float32 views from this many elements are gathered by a registered cpu kernel (@tessera/native) when there is one. */
export const REGISTERED_COPY_MIN_ELEMS = 1024;

/** Float32 views (and matmul operands) from this many elements that are transposed blocks copy through WebAssembly. */
export const TRANSPOSE_MIN_ELEMS = 4096;

/**
 * The n values of a float32 view that is a transposed block, [(batch,) R, C] with strides
 * [(bs,) 1, ld] (ld >= R: a [B, L, D] activation read as [B, D, L], a transposed matrix), copied
 * through the WASM transpose (~4x the strided loop) into pooled storage (no fresh pages to fault
 * in); null where the view is not of that form or WebAssembly is unavailable.
 */
function transposedCopy(shape: readonly number[], strides: readonly number[], offset: number, arr: Float32Array, n: number): Float32Array | null {
  const c = collapse(shape, [strides]);
  const rank = c.shape.length;
  if (rank < 2 || rank > 3) return null;
  const [R, C] = [c.shape[rank - 2], c.shape[rank - 1]];
  const [sR, ld] = [c.strides[0][rank - 2], c.strides[0][rank - 1]];
  if (sR !== 1 || ld < R) return null;
  const k = wasmKernels();
  if (!k) return null;
  const batches = rank === 3 ? c.shape[0] : 1;
  const bs = rank === 3 ? c.strides[0][0] : 0;
  const out = takeStorage("float32", n) as Float32Array;
  // element (i, j) of a batch is arr[start + i + j * ld]: C source rows of R values, ld apart
  const copied = wasmFits(() => {
    for (let b = 0; b < batches; b++) k.transposeCopy(arr, offset + b * bs, ld, C, R, out, b * R * C);
  });
  return copied ? out : null;
}

/** Rows up to this long are copied by shortRows' nested loop rather than one call each. */
const SHORT_ROW = 8;

/**
 * A view that collapses to [rows, n] with short rows (n <= 8; rows > 1), as its 2-D layout, else
 * null: copies of such views run one nested loop instead of a forEachRow call per row (a decode
 * step's causal-conv window, [1, 1536, 3] with rows 4 apart, made 1536 calls per layer).
 */
export function shortRows(shape: readonly number[], strides: readonly number[]): { rows: number; n: number; rowStride: number; step: number } | null {
  const c = collapse(shape, [strides]);
  if (c.shape.length !== 2 || c.shape[1] > SHORT_ROW) return null;
  return { rows: c.shape[0], n: c.shape[1], rowStride: c.strides[0][0], step: c.strides[0][1] };
}

/** Turns a compute array into the storage array of `dtype` (encodes halves). */
export function toStorage(dtype: DType, values: DataArray): StorageArray {
  if (isHalf(dtype)) return f32ToHalf(dtype as "float16" | "bfloat16", values, takeStorage(dtype, values.length) as Uint16Array);
  return values;
}

/**
 * The array an output of `dtype` is computed into: pooled storage (uninitialized: kernels write
 * every element), or a temporary float32 array for half dtypes (encoded by toStorage).
 */
export function computeArray(dtype: DType, size: number): DataArray {
  return isHalf(dtype) ? new Float32Array(size) : (takeStorage(dtype, size) as DataArray);
}

/**
 * Merges adjacent dims that are contiguous with each other in every operand (a contiguous
 * tensor becomes 1-D), and drops size-1 dims.
 */
export function collapse(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls `fn(outOffset, offsets, n, innerStrides)` for each innermost row of `shape`, in row-major
 * order. `offsets[k]` is operand k's element offset at the row start; `innerStrides[k]` its step.
 * `outOffset` is the row's start in a contiguous output.
 */
export function forEachRow(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  fn: (outOffset: number, offsets: number[], n: number, innerStrides: number[]) => void,
): void {
  const total = sizeOf(shape);
  if (total === 0) return;
  const c = collapse(shape, strides);
  const rank = c.shape.length;
  const offs = [...offsets];
  if (rank === 0) {
    fn(
      0,
      offs,
      1,
      strides.map(() => 0),
    );
    return;
  }
  const n = c.shape[rank - 1];
  const inner = c.strides.map((s) => s[rank - 1]);
  const outer = total / n;
  const idx = new Array<number>(rank - 1).fill(0);
  const k = offs.length;
  for (let r = 0; r < outer; r++) {
    fn(r * n, offs, n, inner);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (let j = 0; j < k; j++) offs[j] += c.strides[j][d];
      if (idx[d] < c.shape[d]) break;
      for (let j = 0; j < k; j++) offs[j] -= c.strides[j][d] * c.shape[d];
      idx[d] = 0;
    }
  }
}

/** Offsets of every index of `shape` (row-major) for each operand: used for batch loops. */
export function allOffsets(shape: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[]): number[][] {
  const out: number[][] = [];
  const total = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  const offs = [...offsets];
  for (let r = 0; r < total; r++) {
    out.push([...offs]);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      for (let j = 0; j < offs.length; j++) offs[j] += strides[j][d];
      if (idx[d] < shape[d]) break;
      for (let j = 0; j < offs.length; j++) offs[j] -= strides[j][d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Index kernels on the cpu: gather, indexSelect, scatterAdd. Indices are int32; an index out of
 * range, negative ones included (as PyTorch), throws naming the kernel, the value and the axis
 * size instead of reading garbage or wrapping around.
 */
import { fail } from "../../core/errors";
import type { StorageArray } from "../../core/dtype";
import { contiguousStrides, sizeOf } from "../../core/shape";
import { computeArray, contiguousValues, operand, toStorage, type CpuView } from "./strided";

/** As PyTorch's gather / index_select / scatter_add: an index lies in [0, size); negative ones are errors, not wrapped. */
function checkIndex(op: string, idx: number, size: number, axis: number): number {
  if (!(idx >= 0 && idx < size)) fail(op, `index ${idx} is out of range for axis ${axis} of size ${size} (indices must lie in [0, ${size}): negative ones are not wrapped)`);
  return idx;
}

/** Visits every multi-index of `shape`, giving the linear position and the coordinate array. */
function forEachIndex(shape: readonly number[], fn: (pos: number, coord: number[]) => void): void {
  const total = sizeOf(shape);
  const coord = new Array<number>(shape.length).fill(0);
  for (let pos = 0; pos < total; pos++) {
    fn(pos, coord);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
}

export function gather(x: CpuView, axis: number, index: CpuView): StorageArray {
  const X = operand(x);
  const I = contiguousValues(index);
  const out = computeArray(x.dtype, sizeOf(index.shape));
  forEachIndex(index.shape, (pos, coord) => {
    let off = X.offset;
    for (let d = 0; d < coord.length; d++) {
      const c = d === axis ? checkIndex("gather", I[pos], x.shape[axis], axis) : coord[d];
      off += c * X.strides[d];
    }
    out[pos] = X.arr[off];
  });
  return toStorage(x.dtype, out);
}

export function indexSelect(x: CpuView, axis: number, index: CpuView): StorageArray {
  const X = operand(x);
  const I = contiguousValues(index);
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const n = I.length;
  const out = computeArray(x.dtype, outer * n * inner);
  const outerShape = x.shape.slice(0, axis);
  const innerShape = x.shape.slice(axis + 1);
  const innerStrides = X.strides.slice(axis + 1);
  const innerContig = innerShape.every((_, d) => innerStrides[d] === contiguousStrides(innerShape)[d]);
  const rows = [...I].map((v) => checkIndex("indexSelect", v, x.shape[axis], axis));
  let o = 0;
  forEachIndex(outerShape, (_p, oc) => {
    let base = X.offset;
    for (let d = 0; d < oc.length; d++) base += oc[d] * X.strides[d];
    for (const r of rows) {
      const start = base + r * X.strides[axis];
      if (innerContig) {
        for (let i = 0; i < inner; i++) out[o + i] = X.arr[start + i];
      } else {
        forEachIndex(innerShape, (p, ic) => {
          let off = start;
          for (let d = 0; d < ic.length; d++) off += ic[d] * innerStrides[d];
          out[o + p] = X.arr[off];
        });
      }
      o += inner;
    }
  });
  return toStorage(x.dtype, out);
}

export function scatterAdd(base: CpuView, axis: number, index: CpuView, src: CpuView): StorageArray {
  const out = computeArray(base.dtype, sizeOf(base.shape));
  out.set(contiguousValues(base));
  const I = contiguousValues(index);
  const S = operand(src);
  const outStrides = contiguousStrides(base.shape);
  forEachIndex(index.shape, (pos, coord) => {
    let o = 0;
    let s = S.offset;
    for (let d = 0; d < coord.length; d++) {
      const c = d === axis ? checkIndex("scatterAdd", I[pos], base.shape[axis], axis) : coord[d];
      o += c * outStrides[d];
      s += coord[d] * S.strides[d];
    }
    out[o] += S.arr[s];
  });
  return toStorage(base.dtype, out);
}

/**
 * Reductions on the cpu. The reduced axes are moved to the end; when they merge into one
 * strided run each output element reduces that run directly, otherwise the permuted view is
 * made contiguous first. Sums accumulate in float64.
 */
import { type DataArray, type DType, type StorageArray } from "../../core/dtype";
import { sizeOf } from "../../core/shape";
import type { ArgReduceOp, CumulativeOp, ReduceOp } from "../backend";
import { collapse, computeArray, contiguousValues, forEachRow, operand, toStorage, type CpuView, type Operand } from "./strided";

/** A view with the reduced axes last, and the reduced block as one run when possible. */
interface Plan {
  keptShape: number[];
  keptStrides: number[];
  src: Operand;
  /** Length and stride of the reduced run. */
  runLength: number;
  runStride: number;
}

function plan(x: CpuView, axes: readonly number[]): Plan {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => x.shape[i]);
  const redShape = axes.map((i) => x.shape[i]);
  let src = operand(x);
  let keptStrides = kept.map((i) => src.strides[i]);
  const red = collapse(redShape, [axes.map((i) => src.strides[i])]);
  if (red.shape.length <= 1) {
    return { keptShape, keptStrides, src, runLength: sizeOf(redShape), runStride: red.strides[0][0] ?? 1 };
  }
  // Reduced axes do not merge: materialize the permuted view (kept..., reduced...).
  const perm = [...kept, ...axes];
  const permView: CpuView = {
    data: src.arr as StorageArray,
    dtype: x.dtype === "float16" || x.dtype === "bfloat16" ? "float32" : x.dtype,
    shape: perm.map((i) => x.shape[i]),
    strides: perm.map((i) => src.strides[i]),
    offset: src.offset,
  };
  const arr = contiguousValues(permView);
  const R = sizeOf(redShape);
  src = { arr, strides: [], offset: 0 };
  keptStrides = [];
  let s = R;
  for (let i = keptShape.length - 1; i >= 0; i--) {
    keptStrides[i] = s;
    s *= keptShape[i];
  }
  return { keptShape, keptStrides, src, runLength: R, runStride: 1 };
}

function reduceRun(op: ReduceOp, a: DataArray, j: number, s: number, n: number): number {
  switch (op) {
    case "sum":
    case "mean": {
      let acc = 0;
      for (let i = 0; i < n; i++, j += s) acc += a[j];
      return op === "mean" ? acc / n : acc;
    }
    case "prod": {
      let acc = 1;
      for (let i = 0; i < n; i++, j += s) acc *= a[j];
      return acc;
    }
    case "max": {
      let m = -Infinity;
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        if (v > m || v !== v) {
          m = v;
          if (v !== v) break;
        }
      }
      return m;
    }
    case "min": {
      let m = Infinity;
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        if (v < m || v !== v) {
          m = v;
          if (v !== v) break;
        }
      }
      return m;
    }
    case "any": {
      for (let i = 0; i < n; i++, j += s) if (a[j] !== 0) return 1;
      return 0;
    }
    case "all": {
      for (let i = 0; i < n; i++, j += s) if (a[j] === 0) return 0;
      return 1;
    }
  }
}

export function reduce(op: ReduceOp, x: CpuView, axes: readonly number[], outDtype: DType): StorageArray {
  const p = plan(x, axes);
  const outSize = sizeOf(p.keptShape);
  const out = computeArray(outDtype, outSize);
  if (p.runLength === 0) {
    const empty = { sum: 0, mean: NaN, prod: 1, max: -Infinity, min: Infinity, any: 0, all: 1 }[op];
    out.fill(empty);
    return toStorage(outDtype, out);
  }
  const keptRun = collapse(p.keptShape, [p.keptStrides]);
  const a = p.src.arr;
  const leadingSum = (op === "sum" || op === "mean") && keptRun.shape.length === 1 && keptRun.strides[0][0] === 1 && p.runStride > 1;
  if (leadingSum) {
    // Reducing leading axes of a row-major block: accumulate whole rows (cache friendly).
    const acc = new Float64Array(outSize);
    for (let r = 0, j = p.src.offset; r < p.runLength; r++, j += p.runStride) for (let i = 0; i < outSize; i++) acc[i] += a[j + i];
    const scale = op === "mean" ? 1 / p.runLength : 1;
    for (let i = 0; i < outSize; i++) out[i] = acc[i] * scale;
    return toStorage(outDtype, out);
  }
  forEachRow(p.keptShape, [p.keptStrides], [p.src.offset], (o, offs, n, inner) => {
    for (let i = 0, j = offs[0]; i < n; i++, j += inner[0]) out[o + i] = reduceRun(op, a, j, p.runStride, p.runLength);
  });
  return toStorage(outDtype, out);
}

export function argReduce(op: ArgReduceOp, x: CpuView, axis: number): StorageArray {
  const p = plan(x, [axis]);
  const out = new Int32Array(sizeOf(p.keptShape));
  const a = p.src.arr;
  const n = p.runLength;
  const s = p.runStride;
  const better = op === "argmax" ? (v: number, m: number) => v > m : (v: number, m: number) => v < m;
  forEachRow(p.keptShape, [p.keptStrides], [p.src.offset], (o, offs, len, inner) => {
    for (let i = 0, base = offs[0]; i < len; i++, base += inner[0]) {
      let best = 0;
      let m = a[base];
      if (m === m) {
        for (let r = 1, j = base + s; r < n; r++, j += s) {
          const v = a[j];
          if (v !== v) {
            best = r;
            break;
          } // NaN wins, as in PyTorch
          if (better(v, m)) {
            m = v;
            best = r;
          }
        }
      }
      out[o + i] = best;
    }
  });
  return out;
}

export function cumulative(op: CumulativeOp, x: CpuView, axis: number, reverse: boolean, exclusive: boolean): StorageArray {
  const src = operand(x);
  const n = x.shape[axis];
  const s = src.strides[axis];
  const outShape = [...x.shape];
  const outStrides: number[] = [];
  let st = 1;
  for (let i = outShape.length - 1; i >= 0; i--) {
    outStrides[i] = st;
    st *= outShape[i];
  }
  const os = outStrides[axis];
  const lineShape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = computeArray(x.dtype, sizeOf(x.shape));
  const a = src.arr;
  const init = { sum: 0, prod: 1, max: -Infinity, min: Infinity }[op];
  const step = (acc: number, v: number): number =>
    op === "sum" ? acc + v : op === "prod" ? acc * v : op === "max" ? (v > acc || v !== v ? v : acc) : v < acc || v !== v ? v : acc;
  // Iterate every line along `axis` (one per index of the other dims).
  forEachRow(lineShape, [src.strides, outStrides], [src.offset, 0], (_o, offs, len, inner) => {
    for (let i = 0; i < len; i++) {
      const ib = offs[0] + i * inner[0];
      const ob = offs[1] + i * inner[1];
      let acc = init;
      for (let r = 0; r < n; r++) {
        const t = reverse ? n - 1 - r : r;
        const v = a[ib + t * s];
        if (exclusive) {
          out[ob + t * os] = acc;
          acc = step(acc, v);
        } else {
          acc = step(acc, v);
          out[ob + t * os] = acc;
        }
      }
    }
  });
  return toStorage(x.dtype, out);
}

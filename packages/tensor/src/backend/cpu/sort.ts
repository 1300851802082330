/**
 * Sorting along the last axis (stable; NaN sorts as the largest value, as in PyTorch) and top-k.
 */
import type { StorageArray } from "../../core/dtype";
import { sizeOf } from "../../core/shape";
import { computeArray, contiguousValues, toStorage, type CpuView } from "./strided";

function comparator(a: ArrayLike<number>, descending: boolean): (i: number, j: number) => number {
  return (i, j) => {
    const x = a[i];
    const y = a[j];
    const xn = x !== x;
    const yn = y !== y;
    let c = xn || yn ? (xn && yn ? 0 : xn ? 1 : -1) : x < y ? -1 : x > y ? 1 : 0;
    if (descending) c = -c;
    return c !== 0 ? c : i - j;
  };
}

function sortRows(x: CpuView, k: number, descending: boolean): { values: StorageArray; indices: StorageArray } {
  const n = x.shape[x.shape.length - 1] ?? 1;
  const rows = sizeOf(x.shape) / Math.max(n, 1);
  const a = contiguousValues(x);
  const values = computeArray(x.dtype, rows * k);
  const indices = new Int32Array(rows * k);
  const idx = new Array<number>(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let i = 0; i < n; i++) idx[i] = base + i;
    idx.sort(comparator(a, descending));
    for (let i = 0; i < k; i++) {
      values[r * k + i] = a[idx[i]];
      indices[r * k + i] = idx[i] - base;
    }
  }
  return { values: toStorage(x.dtype, values), indices };
}

export function sort(x: CpuView, descending: boolean): { values: StorageArray; indices: StorageArray } {
  return sortRows(x, x.shape[x.shape.length - 1] ?? 1, descending);
}

export function topk(x: CpuView, k: number, largest: boolean): { values: StorageArray; indices: StorageArray } {
  return sortRows(x, k, largest);
}

/**
 * Appending along an axis with spare capacity (a growable key/value cache): `append(prefix, x,
 * axis)` equals `concat([prefix, x], axis)` but writes x in place after prefix when prefix is a
 * view of an append buffer that ends at the buffer's committed length and has room, so a decode
 * step costs O(x), not O(prefix). Otherwise (no buffer, no room, or a branch from an older view)
 * it copies prefix and x into a new buffer with capacity for geometric growth (amortized O(1)
 * per appended row, as a dynamic array).
 *
 * Values never change under a handle: positions are written only past the committed length,
 * which no handle has seen. The committed length moves back to an older view's end ("rollback")
 * only when every handle over the buffer is one this op returned and none of those reaching past
 * that end is alive (the storage's reference count proves there are no other handles: views a
 * caller derived, or copies an autograd tape keeps). Where gradients are recorded through
 * prefix or x, or their dtypes differ, it is plain concat (the in-place write is not
 * differentiable; concat promotes dtypes). Every backend: the writes are the backend's `write`.
 */
import { fail, fmtShape } from "../core/errors";
import { contiguousStrides, normAxis, sizeOf } from "../core/shape";
import { Storage } from "../core/storage";
import { needsRecord } from "../core/tape";
import { Tensor } from "../core/tensor";
import { concat } from "./join";
import { backendOf } from "./util";

/** What an append buffer knows of itself; keyed by its storage, so it dies with the buffer. */
interface AppendBuffer {
  axis: number;
  /** Full buffer shape (capacity along axis) and its contiguous strides. */
  shape: readonly number[];
  strides: readonly number[];
  /** Rows along axis written so far; only rows past it are written in place. */
  committed: number;
  /** The handles append returned over this buffer, with their ends (pruned when disposed). */
  handles: { t: Tensor; end: number }[];
}

const buffers = new WeakMap<Storage, AppendBuffer>();

/** Rows allocated for n: doubling (at least 64 spare) so appends copy O(1) rows amortized. */
export function appendCapacity(n: number): number {
  return Math.max(2 * n, n + 64);
}

/**
 * concat([prefix, x], axis), in place in prefix's buffer where that is safe (see the module
 * comment); `prefix` null starts a buffer holding x. The result is a view [.., n, ..] of a buffer
 * with capacity along axis; `appendInfo` describes it.
 */
export function append(prefix: Tensor | null, x: Tensor, axis: number): Tensor {
  const op = "append";
  backendOf(op, prefix, x);
  const a = normAxis(op, axis, x.rank);
  if (x.rank === 0) fail(op, "cannot append 0-d tensors");
  if (prefix) {
    if (prefix.rank !== x.rank || prefix.shape.some((d, j) => j !== a && d !== x.shape[j]))
      fail(op, `x ${fmtShape(x.shape)} does not match prefix ${fmtShape(prefix.shape)} off axis ${a}`);
  }
  // Gradients (the write is not differentiable) or mixed dtypes (concat promotes): plain concat.
  const parts = prefix ? [prefix, x] : [x];
  if (needsRecord(parts) || (prefix && prefix.dtype !== x.dtype)) return concat(parts, a);
  const buf = prefix ? inPlace(prefix, x, a) : null;
  if (buf) return buf;
  return fresh(prefix, x, a);
}

/** The buffer row where t starts, when t is a full-width view of buffer b along b.axis. */
function startIn(t: Tensor, b: AppendBuffer, axis: number): number | null {
  if (b.axis !== axis || t.rank !== b.shape.length) return null;
  if (t.shape.some((d, j) => j !== axis && d !== b.shape[j]) || t.strides.some((s, j) => t.shape[j] > 1 && s !== b.strides[j])) return null;
  const step = b.strides[axis];
  return t.offset % step === 0 ? t.offset / step : null;
}

function inPlace(prefix: Tensor, x: Tensor, axis: number): Tensor | null {
  const storage = prefix.storage;
  const b = buffers.get(storage);
  if (!b) return null;
  const start = startIn(prefix, b, axis);
  if (start === null) return null;
  const end = start + prefix.shape[axis];
  const n = x.shape[axis];
  if (end + n > b.shape[axis]) return null;
  if (end !== b.committed) {
    // A branch from an older view: take the rows back only if nothing can see them.
    b.handles = b.handles.filter((h) => !h.t.isDisposed);
    if (b.handles.some((h) => h.end > end) || storage.refCount !== b.handles.length) return null;
    b.committed = end;
  }
  const shape = [...prefix.shape];
  shape[axis] = n;
  storage.backend.write({ data: storage.data, dtype: x.dtype, shape, strides: b.strides, offset: end * b.strides[axis] }, x.view());
  b.committed = end + n;
  shape[axis] = end + n - start;
  storage.retain();
  return handOut(b, new Tensor(storage, shape, b.strides, prefix.offset, x.dtype), end + n);
}

function fresh(prefix: Tensor | null, x: Tensor, axis: number): Tensor {
  const be = backendOf("append", x);
  const len = prefix ? prefix.shape[axis] : 0;
  const n = len + x.shape[axis];
  const full = [...x.shape];
  full[axis] = appendCapacity(n);
  const strides = contiguousStrides(full);
  const data = be.fill(sizeOf(full), x.dtype, 0);
  const put = (t: Tensor, at: number) => be.write({ data, dtype: x.dtype, shape: t.shape, strides, offset: at * strides[axis] }, t.view());
  if (prefix && len > 0) put(prefix, 0);
  put(x, len);
  const storage = new Storage(be, data, x.dtype, sizeOf(full));
  const b: AppendBuffer = { axis, shape: full, strides, committed: n, handles: [] };
  buffers.set(storage, b);
  const shape = [...x.shape];
  shape[axis] = n;
  return handOut(b, new Tensor(storage, shape, strides, 0, x.dtype), n);
}

function handOut(b: AppendBuffer, t: Tensor, end: number): Tensor {
  b.handles = b.handles.filter((h) => !h.t.isDisposed);
  b.handles.push({ t, end });
  return t;
}

/** A tensor's append buffer, if it is a view of one: its capacity and committed length along the axis. */
export function appendInfo(t: Tensor): { capacity: number; committed: number } | null {
  const b = buffers.get(t.storage);
  return b ? { capacity: b.shape[b.axis], committed: b.committed } : null;
}

/**
 * A pool of freed cpu storage arrays, reused for new tensors of the same type and length.
 * Allocating a large typed array costs far more than computing into one (the OS zero-fills and
 * page-faults it), and models allocate the same activation sizes every step. Pooled arrays are
 * handed out uninitialized: every kernel writes all of its output. Arrays a caller lent us
 * (fromNdarray) are never pooled. The pool is capped (default 512 MiB) and can be emptied; when
 * a freed array would pass the cap, the sizes used least recently are dropped to make room (a
 * pool full of one workload's sizes would otherwise turn the next workload's every array into a
 * fresh, page-faulting allocation: GPT-2's prefill ran ~20% slower after an attention benchmark).
 */
import { allocStorage, type DType, type StorageArray } from "../../core/dtype";

/** Arrays smaller than this are left to the garbage collector (cheap to allocate). */
const MIN_BYTES = 1 << 16;

/** Freed arrays by type and length; the Map's order is recency of use (least recent first). */
const free = new Map<string, StorageArray[]>();
let pooledBytes = 0;
let limit = 512 * 1024 * 1024;
const borrowed = new WeakSet<ArrayBufferLike>();

const key = (a: StorageArray): string => `${a.constructor.name}:${a.length}`;

/** A storage array for `dtype` of `size` elements; contents are undefined when it comes from the pool. */
export function takeStorage(dtype: DType, size: number): StorageArray {
  const probe = allocStorage(dtype, 0);
  if (size * probe.BYTES_PER_ELEMENT >= MIN_BYTES) {
    const k = `${probe.constructor.name}:${size}`;
    const list = free.get(k);
    const a = list?.pop();
    if (list && a) {
      pooledBytes -= a.byteLength;
      touch(k, list);
      return a;
    }
  }
  return allocStorage(dtype, size);
}

/** Returns a freed storage array to the pool (if it is ours, whole, large enough and fits). */
export function giveStorage(a: StorageArray): void {
  if (a.byteLength < MIN_BYTES || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength || borrowed.has(a.buffer)) return;
  if (a.byteLength > limit) return;
  const k = key(a);
  const list = free.get(k) ?? [];
  touch(k, list);
  // Over the cap: drop arrays of the least recently used sizes (this size last) until it fits.
  for (const [other, arrays] of free) {
    if (pooledBytes + a.byteLength <= limit) break;
    while (arrays.length && pooledBytes + a.byteLength > limit) pooledBytes -= (arrays.pop() as StorageArray).byteLength;
    if (!arrays.length && other !== k) free.delete(other);
  }
  list.push(a);
  pooledBytes += a.byteLength;
}

/** Marks a size as just used: it moves to the end of the recency order. */
function touch(k: string, list: StorageArray[]): void {
  free.delete(k);
  free.set(k, list);
}

/** Marks memory the caller owns (zero-copy views of user arrays): never pooled. */
export function markBorrowed(a: StorageArray): void {
  borrowed.add(a.buffer);
}

/** Whether `a` is memory the caller owns (never pooled, never kept resident). */
export function isBorrowed(a: StorageArray): boolean {
  return borrowed.has(a.buffer);
}

/** Sets the pool's byte cap (0 turns pooling off) and trims to it. */
export function setCpuPoolLimit(bytes: number): void {
  limit = Math.max(0, bytes);
  if (pooledBytes > limit) trimCpuPool();
}

/** Drops every pooled array (the garbage collector frees them). */
export function trimCpuPool(): void {
  free.clear();
  pooledBytes = 0;
}

export function cpuPoolStats(): { pooledBytes: number; pooledArrays: number; limit: number } {
  let n = 0;
  for (const l of free.values()) n += l.length;
  return { pooledBytes, pooledArrays: n, limit };
}

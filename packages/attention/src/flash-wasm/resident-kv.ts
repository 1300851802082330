/**
 * Key / value caches kept resident in the fused attention's WebAssembly memory between decode
 * steps. A decode step reads every cached key and value, and copying them into WASM memory each
 * step costs about as much as the attention itself (GPT-2 small at 960 positions: 71 MB a step).
 * An operand flash_decode sees a second time as the same heads of the same storage (an `append`
 * cache [B, Hkv, capacity, D]: each head's rows at `offset + h * stride`) is mirrored with the
 * same layout; later steps copy in only the rows past those mirrored.
 *
 * Validity: the cpu backend reports every in-place write to its arrays (`append`'s new rows,
 * `assign`), every free (pooled arrays come back with other contents) and every zero-copy
 * lending (ResidentCache.storageWritten / forgetStorage of @tessera/tensor). A write keeps the mirrored rows
 * before the first row it touches; a free or lending drops the mirror. Arrays the backend cannot
 * watch (`residentEligible` false: other backends, memory lent by the caller) are never kept.
 * The mirrors count toward the one resident budget (setWasmWeightBudget) but only take what the
 * weights leave: a cache that does not fit is copied in each step as before, never making the
 * budget drop the resident weights (re-packing them costs far more than the copy saves), and the
 * mirrors are dropped first (`evictFirst`) when weights need the room.
 */
import type { StorageArray } from "@tessera/tensor";
import { growWasmMemory, registerResidentCache, type ResidentCache, type WasmMemoryLike, type WrittenView, wasmWeightBudget } from "@tessera/tensor/wasm";

/** A cache operand as flash_decode reads it: `heads` runs of rows of D floats, run h at data[offset + h * stride]. */
export interface CacheView {
  data: Float32Array;
  offset: number;
  stride: number;
  heads: number;
  D: number;
}

interface Mirror {
  /** Byte offset in WASM memory of the view's element `offset` (head 0, row 0). */
  at: number;
  offset: number;
  stride: number;
  heads: number;
  D: number;
  /** Rows [0, rows) of every head equal the storage's now. */
  rows: number;
}

const ALIGN = 64;
/** Writes of more rows than this reset the mirrors of their array to no rows (refilled at the next step) instead of being looked at row by row. */
const MAX_ROWS_INSPECTED = 1 << 16;

const sameView = (m: Mirror | CacheView, v: CacheView) => m.offset === v.offset && m.stride === v.stride && m.heads === v.heads && m.D === v.D;

export class ResidentKV implements ResidentCache {
  /** Dropped before the weights when the budget is short (reserveResident): a cache is cheap to copy in again, a weight costs a re-pack. */
  readonly evictFirst = true;
  private mirrors = new WeakMap<StorageArray, Mirror[]>();
  /** Views seen once: mirrored from the second sighting (a one-off operand is never kept). */
  private seen = new WeakMap<StorageArray, Set<string>>();
  private live = 0;
  /** Bytes below `end` of mirrors already forgotten (reclaimed when every mirror is gone or by clear()). */
  private garbage = 0;
  /** First byte after the mirrors (the kernels' per-call layout starts here). */
  end: number;

  constructor(
    private readonly memory: WasmMemoryLike,
    private readonly base: number,
  ) {
    this.end = base;
    registerResidentCache(this);
  }

  get bytes(): number {
    return this.end - this.base;
  }

  clear(): void {
    this.mirrors = new WeakMap();
    this.live = 0;
    this.garbage = 0;
    this.end = this.base;
  }

  forgetStorage(arr: StorageArray): void {
    this.seen.delete(arr);
    const list = this.mirrors.get(arr);
    if (!list) return;
    this.mirrors.delete(arr);
    this.live -= list.length;
    this.garbage += totalBytes(list);
    if (this.live === 0) {
      this.end = this.base; // nothing left: reuse the space from the bottom
      this.garbage = 0;
    }
  }

  storageWritten(arr: StorageArray, at: WrittenView): void {
    const list = this.mirrors.get(arr);
    if (!list) return;
    for (const m of list) m.rows = Math.min(m.rows, firstRowTouched(m, at));
  }

  /**
   * Byte offsets in WASM memory of each view's rows [0, T[i]), mirrored and brought up to date;
   * null for a view not kept (null, its first sighting, over the budget, memory growth refused):
   * the caller copies that one in as before.
   */
  prepare(views: readonly (CacheView | null)[], T: readonly number[]): (number | null)[] {
    const seenBefore = views.map((v) => v !== null && this.markSeen(v));
    const missing = () => {
      const out: CacheView[] = []; // each view once (k and v may be the same one)
      views.forEach((v, i) => {
        if (v && seenBefore[i] && !this.find(v) && !out.some((o) => o.data === v.data && sameView(o, v))) out.push(v);
      });
      return out;
    };
    let add = missing();
    if (add.length) {
      const spare = () => {
        const b = wasmWeightBudget();
        return b.budget - b.bytes;
      };
      if (totalBytes(add) > spare() && this.garbage > 0) {
        // Forgotten mirrors hold the room: start over (the live ones come back at their next step).
        this.clear();
        add = missing();
      }
      if (totalBytes(add) <= spare()) this.admit(add);
    }
    return views.map((v, i) => {
      const m = v && this.find(v);
      if (!v || !m) return null;
      if (T[i] > m.rows) copyRows(this.memory, m, v.data, m.rows, T[i]);
      m.rows = Math.max(m.rows, T[i]);
      return m.at;
    });
  }

  private find(v: CacheView): Mirror | undefined {
    return this.mirrors.get(v.data)?.find((m) => sameView(m, v));
  }

  /** Marks a view seen; whether it had been seen before (it is mirrored from its second sighting). */
  private markSeen(v: CacheView): boolean {
    const key = `${v.offset}:${v.stride}:${v.heads}:${v.D}`;
    let keys = this.seen.get(v.data);
    if (!keys) this.seen.set(v.data, (keys = new Set()));
    if (keys.has(key)) return true;
    keys.add(key);
    return false;
  }

  /** Places mirrors for `views` (empty: rows 0) at the end, growing memory; none where growth is refused. */
  private admit(views: readonly CacheView[]): void {
    for (const v of views) {
      const at = this.end;
      const end = Math.ceil((at + bytesOf(v)) / ALIGN) * ALIGN;
      try {
        growWasmMemory(this.memory, end);
      } catch {
        return; // no room: the remaining views are copied in each call as before
      }
      this.end = end;
      let list = this.mirrors.get(v.data);
      if (!list) this.mirrors.set(v.data, (list = []));
      list.push({ at, offset: v.offset, stride: v.stride, heads: v.heads, D: v.D, rows: 0 });
      this.live++;
    }
  }
}

/** A mirror's bytes: every head's full stride (capacity * D for an append cache), so rows can be added in place. */
const bytesOf = (v: { heads: number; stride: number }) => 4 * v.heads * v.stride;
const totalBytes = (views: readonly { heads: number; stride: number }[]) => views.reduce((n, v) => n + bytesOf(v), 0);

/** Copies rows [r0, r1) of every head of the view into its mirror. */
function copyRows(memory: WasmMemoryLike, m: Mirror, data: Float32Array, r0: number, r1: number): void {
  const heap = new Float32Array(memory.buffer);
  const base = m.at / 4;
  for (let h = 0; h < m.heads; h++) {
    const src = m.offset + h * m.stride;
    heap.set(data.subarray(src + r0 * m.D, src + r1 * m.D), base + h * m.stride + r0 * m.D);
  }
}

/**
 * The first row (over all heads) of mirror `m` that a write at view `w` may touch: Infinity when
 * it touches none, 0 when it cannot tell cheaply (the mirror is then refilled from row 0).
 */
export function firstRowTouched(m: Pick<CacheView, "offset" | "stride" | "heads" | "D">, w: WrittenView): number {
  const n = w.shape.length;
  if (w.shape.some((s) => s === 0)) return Number.POSITIVE_INFINITY;
  // Runs of contiguous elements along the last dim (stride 1), else single elements.
  const runDims = n > 0 && w.strides[n - 1] === 1 ? 1 : 0;
  const run = runDims ? w.shape[n - 1] : 1;
  const outerShape = w.shape.slice(0, n - runDims);
  const outerStrides = w.strides.slice(0, n - runDims);
  let runs = 1;
  for (const s of outerShape) runs *= s;
  if (runs > MAX_ROWS_INSPECTED) return 0;
  const span = m.heads * m.stride;
  let first = Number.POSITIVE_INFINITY;
  const idx = new Array<number>(outerShape.length).fill(0);
  for (let r = 0; r < runs; r++) {
    let o = w.offset;
    for (let d = 0; d < idx.length; d++) o += idx[d] * outerStrides[d];
    const lo = o - m.offset;
    const hi = lo + run - 1;
    if (hi >= 0 && lo < span) {
      if (lo < 0) return 0;
      const h = Math.floor(lo / m.stride);
      if (Math.floor(hi / m.stride) !== h) return 0; // runs on into the next head's first rows
      first = Math.min(first, Math.floor((lo - h * m.stride) / m.D));
    }
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < outerShape[d]) break;
      idx[d] = 0;
    }
  }
  return first;
}

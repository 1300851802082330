/**
 * The fused flash attention of wasm/flash.ts on WebAssembly SIMD, loaded through
 * `@tessera/tensor/wasm` (the one WASM runtime): its relaxed-SIMD build (fused multiply-add)
 * where the runtime has relaxed SIMD (`wasmFeatures().relaxedSimd`), else its SIMD128 build. Operands are copied into the module's memory
 * in the layouts wasm/flash.ts documents (head dims padded to 8, query rows to 16, keys to 8,
 * all padding zero; unpadded for flash_decode, which serves forwards of at most DECODE_MAX_TQ
 * query rows); where memory can be shared (Node, cross-origin isolated pages) the tasks run
 * on a worker pool (`startWasmPool`, its own workers over this module's memory): threads claim
 * tasks from an atomic counter, each computed as on one thread, so results do not depend on the
 * thread count. Memory is linear in T: nothing of size Tq x Tk is allocated.
 */
import { type CpuAttentionProblem, getKernelPreference, TesseraError } from "@tessera/tensor";
import { type CompiledWasm, checkThreadCount, compileWasm, growWasmMemory, instantiateWasm, type KernelPool, kernelPool, type WasmPool } from "@tessera/tensor/wasm";
import { FLASH_WASM_PLAIN, FLASH_WASM_RELAXED_PLAIN, FLASH_WASM_RELAXED_SHARED, FLASH_WASM_SHARED } from "./binary";
import { type CacheView, ResidentKV } from "./resident-kv";

interface Exports {
  pack_panels(src: number, rows: number, cols: number, dst: number): void;
  flash_fwd(prm: number, t: number, n: number): void;
  flash_bwd_kv(prm: number, t: number, n: number): void;
  flash_bwd_q(prm: number, t: number, n: number): void;
  flash_decode(prm: number, t: number, n: number): void;
}

/** Parameter slots of wasm/flash.ts (P_*). */
const P = {
  B: 0,
  H: 1,
  Hkv: 2,
  Tq: 3,
  Tk: 4,
  Dp: 5,
  Dvp: 6,
  Tqp: 7,
  Tkp: 8,
  flags: 9,
  left: 10,
  right: 11,
  scale: 12,
  cap: 13,
  q: 14,
  k: 15,
  v: 16,
  kp: 17,
  out: 18,
  lse: 19,
  kbias: 20,
  slopes: 21,
  scratch: 22,
  scratchBytes: 23,
  dy: 24,
  dsum: 25,
  dq: 26,
  dk: 27,
  dv: 28,
  vp: 29,
  next: 30,
  Dh: 31,
  Dvh: 32,
  ks: 33,
  vs: 34,
} as const;
const SLOTS = 40;
const F = { causal: 1, window: 2, zero: 4, alibi: 8, cap: 16, pad: 32 } as const;
/** BQ, BK and QG of wasm/flash.ts. */
const BQ = 64;
const BK = 64;
const QG = 16;

/** Job op codes of the worker dispatch. */
const OP = { fwd: 1, bwdKv: 2, bwdQ: 3, decode: 4 } as const;
const DISPATCH = `
    switch (j[0]) {
      case ${OP.fwd}: ex.flash_fwd(j[1], j[2], j[3]); break;
      case ${OP.bwdKv}: ex.flash_bwd_kv(j[1], j[2], j[3]); break;
      case ${OP.bwdQ}: ex.flash_bwd_q(j[1], j[2], j[3]); break;
      case ${OP.decode}: ex.flash_decode(j[1], j[2], j[3]); break;
    }`;
/** Below this many multiply-adds (B H Tq Tk D) a call stays on one thread (waking workers costs ~10-50 us). */
const THREAD_MIN_MACS = 1 << 20;
/**
 * Forwards with at most this many query rows take flash_decode (no key panels, no query padding
 * to 16 rows, operands copied unpadded): decode steps and short drafts. Measured (the whole
 * scaledDotProductAttention call, 12 heads, D 64, causal, one thread): flash_decode / flash_fwd
 * ~70 / 190 us at Tq 1, Tk 129; ~225 / 250-300 us at Tq 8; even at Tq 16; at Tk 1024 ~0.85 / 1.9 ms
 * (Tq 1) and ~1.8 / 2.4 ms (Tq 8).
 */
export const DECODE_MAX_TQ = 8;
const BASE = 65536;
/** Shared WebAssembly memory stops at 2 GiB; leave room for the module's own data. */
const MAX_BYTES = 2 ** 31 - 2 * BASE;

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/**
 * Sizes of one problem and its options, as the kernel reads them: the registered cpu attention's
 * problem (@tessera/tensor), with key padding given as a mask instead of an additive bias.
 */
export interface FlashProblem extends Omit<CpuAttentionProblem, "keyBias" | "alibiSlopes"> {
  /** [B, Tk]: nonzero = padding key; or null. */
  keyPadding: ArrayLike<number> | null;
  /** One slope per query head, or null. */
  alibiSlopes: ArrayLike<number> | null;
}

export const padded = (p: FlashProblem) => ({ Dp: roundUp(p.D, 8), Dvp: roundUp(p.Dv, 8), Tqp: roundUp(p.Tq, QG), Tkp: roundUp(p.Tk, 8) });

/**
 * An operand [heads, T, D]: a contiguous array, or `heads` runs of T * D contiguous values at
 * data[offset + h * stride ...] (float32Blocks of @tessera/tensor: e.g. the first T rows of a key
 * cache with spare capacity, read where it lies instead of gathered into a copy first).
 */
export type HeadBlocks =
  | Float32Array
  | {
      data: Float32Array;
      offset: number;
      stride: number;
      /** The cpu backend reports its writes (residentEligible): flash_decode may keep it resident. */
      watched?: boolean;
    };

/** Copies x [heads, T, D] into the heap at float index `at` as [heads, Tp, Dp], padding zero. */
function putPadded(heap: Float32Array, x: HeadBlocks, heads: number, T: number, D: number, Tp: number, Dp: number, at: number): void {
  const n = T * D;
  const { data, offset, stride } = x instanceof Float32Array ? { data: x, offset: 0, stride: n } : x;
  if (T === Tp && D === Dp && stride === n) {
    heap.set(data.subarray(offset, offset + heads * n), at);
    return;
  }
  if (D === Dp) {
    // Each head's rows, then zeros on its padding rows only.
    for (let h = 0; h < heads; h++) {
      const o = at + h * Tp * Dp;
      const src = offset + h * stride;
      heap.set(data.subarray(src, src + n), o);
      heap.fill(0, o + n, o + Tp * Dp);
    }
    return;
  }
  heap.fill(0, at, at + heads * Tp * Dp);
  for (let h = 0; h < heads; h++)
    for (let t = 0; t < T; t++) {
      const src = offset + h * stride + t * D;
      heap.set(data.subarray(src, src + D), at + (h * Tp + t) * Dp);
    }
}

/**
 * A watched operand of `heads` runs of T rows as the resident cache keys it, or null (never kept):
 * a plain array (a copy made for this call), or heads that overlap (a stride below T * D, e.g. 0
 * for heads broadcast by `expand`).
 */
function cacheView(x: HeadBlocks, heads: number, T: number, D: number): CacheView | null {
  if (x instanceof Float32Array || !x.watched || x.stride < T * D) return null;
  return { data: x.data, offset: x.offset, stride: x.stride, heads, D };
}

/** The inverse of putPadded: [heads, Tp, Dp] at float index `at` -> a new [heads, T, D]. */
function getPadded(heap: Float32Array, heads: number, T: number, D: number, Tp: number, Dp: number, at: number): Float32Array {
  if (T === Tp && D === Dp) return heap.slice(at, at + heads * T * D);
  const out = new Float32Array(heads * T * D);
  if (D === Dp) {
    for (let h = 0; h < heads; h++) out.set(heap.subarray(at + h * Tp * Dp, at + h * Tp * Dp + T * D), h * T * D);
    return out;
  }
  for (let r = 0, h = 0; h < heads; h++) for (let t = 0; t < T; t++, r++) out.set(heap.subarray(at + (h * Tp + t) * Dp, at + (h * Tp + t) * Dp + D), r * D);
  return out;
}

/** Bump allocation of float arrays (64-byte aligned) from `end`: above the parameter block and the resident caches. */
class Layout {
  constructor(public end: number) {}
  alloc(floats: number): number {
    const at = roundUp(this.end, 64);
    this.end = at + 4 * floats;
    return at;
  }
}

/** What the forward hands its backward: the row logsumexp [B, H, Tqp] and the key bias [B, Tkp]. */
export interface FlashSaved {
  lse: Float32Array;
  kbias: Float32Array;
}

export class FlashWasm {
  /** The worker pool over this module's memory (started in the background at first use; initAttentionThreads resizes it). */
  readonly threads: KernelPool;
  /** WebAssembly memory the last call used (bytes from 0, the resident caches not counted): linear in T, never Tq x Tk. */
  lastBytes = 0;
  /** The kernel the last forward ran: flash_fwd ('flash') or flash_decode ('decode', Tq <= DECODE_MAX_TQ). */
  lastForward: "flash" | "decode" | null = null;
  /** Key / value caches flash_decode keeps in this memory between steps (resident-kv.ts), above the parameter block. */
  readonly kv: ResidentKV;
  /** Of the last forward's k and v: how many were read from their resident copy (flash_decode). */
  lastResident = 0;
  constructor(
    readonly module: WebAssembly.Module,
    private readonly ex: Exports,
    readonly memory: WebAssembly.Memory,
    /** Whether this is the relaxed-SIMD build (fused multiply-add; wasmFeatures().relaxedSimd). */
    readonly relaxed: boolean,
  ) {
    this.kv = new ResidentKV(memory, roundUp(BASE + 4 * SLOTS, 64));
    this.threads = kernelPool(module, memory, { dispatch: DISPATCH, slots: 4 });
  }

  /** The running pool, or null (one thread). */
  get pool(): WasmPool | null {
    return this.threads.pool;
  }

  /** Bytes of WebAssembly memory a forward + backward of this problem needs (both are below it). */
  static bytesNeeded(p: FlashProblem, threads: number): number {
    const { Dp, Dvp, Tqp, Tkp } = padded(p);
    const q = p.B * p.H * Tqp;
    const k = p.B * p.Hkv * Tkp;
    // backward (the larger): q, dq; dy; lse, dsum; k, kp, dk; v, vp, dv; key bias; slopes (+ out for the forward)
    const floats = 2 * q * Dp + 2 * q * Dvp + 3 * q + 3 * k * Dp + 3 * k * Dvp + p.B * Tkp + p.H;
    return BASE + 4 * SLOTS + 4 * floats + 64 * 16 + threads * Math.max(FlashWasm.scratchBytes(p), FlashWasm.decodeScratchBytes(p));
  }

  /** flash_decode's per-thread scratch: qs [D] | s [Tk] | acc [Dv], each rounded up to 4 floats. */
  private static decodeScratchBytes(p: FlashProblem): number {
    return roundUp(4 * (roundUp(p.D, 4) + roundUp(p.Tk, 4) + roundUp(p.Dv, 4)), 64);
  }

  /** Per-thread scratch (wasm/flash.ts: forward qp | s | acc | m | l; backward qp | dyp | p | ds | tanh). */
  private static scratchBytes(p: FlashProblem): number {
    const { Dp, Dvp } = padded(p);
    const fwd = 4 * Dp + 4 * BK + BQ * Dvp + 2 * BQ;
    const bwd = QG * Dp + QG * Dvp + 3 * QG * BK;
    return roundUp(4 * Math.max(fwd, bwd), 64);
  }

  /** Drops the resident caches where they would leave this problem too little of WebAssembly's memory. */
  private makeRoom(p: FlashProblem): void {
    if (this.kv.bytes > 0 && this.kv.end + FlashWasm.bytesNeeded(p, 64) > MAX_BYTES) this.kv.clear();
  }

  private threadsFor(p: FlashProblem, tasks: number): number {
    const pool = this.pool && !this.pool.failure ? this.pool : null;
    if (!pool || p.B * p.H * p.Tq * p.Tk * p.D < THREAD_MIN_MACS) return 1;
    return Math.max(1, Math.min(pool.workers + 1, tasks));
  }

  /** Runs kernel `op` as tasks over `threads` threads (t > 0 on workers, t = 0 here). */
  private run(op: number, prm: number, threads: number, own: (prm: number, t: number, n: number) => void): void {
    new Int32Array(this.memory.buffer, prm, SLOTS)[P.next] = 0; // the task counter
    if (threads > 1 && this.pool) {
      for (let t = 1; t < threads; t++) this.pool.job(t - 1, op, [prm, t, threads]);
      this.pool.run(() => own(prm, 0, threads));
    } else own(prm, 0, 1);
  }

  private grow(bytes: number): Float32Array {
    try {
      growWasmMemory(this.memory, bytes);
    } catch (e) {
      throw new TesseraError(
        "scaledDotProductAttention",
        `the fused WASM attention needs ${bytes} bytes of WebAssembly memory, ${this.memory.buffer.byteLength} are available and growth was refused (${(e as Error).message}); use implementation 'reference' or split the batch`,
      );
    }
    return new Float32Array(this.memory.buffer);
  }

  /** The parameter block's sizes and options (offsets are filled in by the caller) and a fresh layout. */
  private params(p: FlashProblem): { L: Layout; prm: Int32Array } {
    const { Dp, Dvp, Tqp, Tkp } = padded(p);
    const prm = new Int32Array(SLOTS);
    const f32 = new Float32Array(prm.buffer);
    prm[P.B] = p.B;
    prm[P.H] = p.H;
    prm[P.Hkv] = p.Hkv;
    prm[P.Tq] = p.Tq;
    prm[P.Tk] = p.Tk;
    prm[P.Dp] = Dp;
    prm[P.Dvp] = Dvp;
    prm[P.Tqp] = Tqp;
    prm[P.Tkp] = Tkp;
    prm[P.Dh] = p.D;
    prm[P.Dvh] = p.Dv;
    const clampPos = (x: number) => Math.min(x, 1 << 30); // window sides beyond every position
    prm[P.flags] =
      (p.causal ? F.causal : 0) |
      (p.window ? F.window : 0) |
      (p.zeroMaskedRows ? F.zero : 0) |
      (p.alibiSlopes ? F.alibi : 0) |
      (p.softcap ? F.cap : 0) |
      (p.keyPadding || Tkp > p.Tk ? F.pad : 0);
    prm[P.left] = p.window ? clampPos(p.window[0]) : 0;
    prm[P.right] = p.window ? clampPos(p.window[1]) : 0;
    f32[P.scale] = p.scale;
    f32[P.cap] = p.softcap ?? 0;
    prm[P.ks] = p.Tk * p.D;
    prm[P.vs] = p.Tk * p.Dv;
    return { L: new Layout(this.kv.end), prm };
  }

  /** The key bias [B, Tkp]: -inf on padding keys (the caller's and j >= Tk), else 0. */
  static keyBias(p: FlashProblem): Float32Array {
    const { Tkp } = padded(p);
    const kb = new Float32Array(p.B * Tkp);
    for (let b = 0; b < p.B; b++) for (let j = 0; j < Tkp; j++) if (j >= p.Tk || (p.keyPadding && p.keyPadding[b * p.Tk + j] !== 0)) kb[b * Tkp + j] = Number.NEGATIVE_INFINITY;
    return kb;
  }

  /** The saved row logsumexp [B, H, Tqp] from the kernel's (rows i < Tq), -inf on padding rows (the backward skips them). */
  private savedLse(p: FlashProblem, olse: number): Float32Array {
    const { Tqp } = padded(p);
    const lse = new Float32Array(this.memory.buffer).slice(olse / 4, olse / 4 + p.B * p.H * Tqp);
    if (Tqp > p.Tq) for (let bh = 0; bh < p.B * p.H; bh++) lse.fill(Number.NEGATIVE_INFINITY, bh * Tqp + p.Tq, (bh + 1) * Tqp);
    return lse;
  }

  /** out [B, H, Tq, Dv] and what the backward needs. */
  forward(p: FlashProblem, q: HeadBlocks, k: HeadBlocks, v: HeadBlocks): { out: Float32Array; saved: FlashSaved } {
    this.makeRoom(p);
    this.lastResident = 0;
    if (p.Tq <= DECODE_MAX_TQ) return this.decode(p, q, k, v);
    this.lastForward = "flash";
    const { Dp, Dvp, Tqp, Tkp } = padded(p);
    const [BH, BHkv] = [p.B * p.H, p.B * p.Hkv];
    const tasks = BH * Math.ceil(Tqp / BQ);
    const threads = this.threadsFor(p, tasks);
    const { L, prm } = this.params(p);
    const kbias = FlashWasm.keyBias(p);
    const oq = L.alloc(BH * Tqp * Dp);
    const ok = L.alloc(BHkv * Tkp * Dp);
    const okp = L.alloc(BHkv * Tkp * Dp);
    const ov = L.alloc(BHkv * Tkp * Dvp);
    const oout = L.alloc(BH * Tqp * Dvp);
    const olse = L.alloc(BH * Tqp);
    const okb = L.alloc(p.B * Tkp);
    const osl = L.alloc(p.H);
    const sb = FlashWasm.scratchBytes(p);
    const os = L.alloc((threads * sb) / 4);
    const heap = this.grow(L.end);
    this.lastBytes = L.end - this.kv.bytes;
    putPadded(heap, q, BH, p.Tq, p.D, Tqp, Dp, oq / 4);
    putPadded(heap, k, BHkv, p.Tk, p.D, Tkp, Dp, ok / 4);
    putPadded(heap, v, BHkv, p.Tk, p.Dv, Tkp, Dvp, ov / 4);
    heap.set(kbias, okb / 4);
    if (p.alibiSlopes) heap.set(Float32Array.from(p.alibiSlopes), osl / 4);
    Object.assign(prm, { [P.q]: oq, [P.k]: ok, [P.kp]: okp, [P.v]: ov, [P.out]: oout, [P.lse]: olse, [P.kbias]: okb, [P.slopes]: osl, [P.scratch]: os, [P.scratchBytes]: sb });
    new Int32Array(this.memory.buffer, BASE, SLOTS).set(prm);
    this.ex.pack_panels(ok, BHkv * Tkp, Dp, okp);
    this.run(OP.fwd, BASE, threads, (a, t, n) => this.ex.flash_fwd(a, t, n));
    const h = new Float32Array(this.memory.buffer);
    return { out: getPadded(h, BH, p.Tq, p.Dv, Tqp, Dvp, oout / 4), saved: { lse: this.savedLse(p, olse), kbias } };
  }

  /**
   * The forward of a few query rows through flash_decode: q, k, v copied in unpadded (one copy
   * each), out read back as it is; saved values as flash_fwd's (same layout, lse equal to rounding)
   * for the same backward.
   */
  private decode(p: FlashProblem, q: HeadBlocks, k: HeadBlocks, v: HeadBlocks, resident = true): { out: Float32Array; saved: FlashSaved } {
    this.lastForward = "decode";
    const { Tqp, Tkp } = padded(p);
    const [BH, BHkv] = [p.B * p.H, p.B * p.Hkv];
    const threads = this.threadsFor(p, BH);
    // A key / value cache seen before is read where it stays resident (only its new rows copied in).
    const [rk, rv] = resident ? this.kv.prepare([cacheView(k, BHkv, p.Tk, p.D), cacheView(v, BHkv, p.Tk, p.Dv)], [p.Tk, p.Tk]) : [null, null];
    const { L, prm } = this.params(p);
    if (!p.keyPadding) prm[P.flags] &= ~F.pad; // keys j >= Tk: flash_decode masks them itself
    const kbias = FlashWasm.keyBias(p);
    const oq = L.alloc(BH * p.Tq * p.D);
    const ok = rk ?? L.alloc(BHkv * p.Tk * p.D);
    const ov = rv ?? L.alloc(BHkv * p.Tk * p.Dv);
    if (rk !== null) prm[P.ks] = (k as { stride: number }).stride;
    if (rv !== null) prm[P.vs] = (v as { stride: number }).stride;
    this.lastResident = (rk !== null ? 1 : 0) + (rv !== null ? 1 : 0);
    const oout = L.alloc(BH * p.Tq * p.Dv);
    const olse = L.alloc(BH * Tqp);
    const okb = L.alloc(p.B * Tkp);
    const osl = L.alloc(p.H);
    const sb = FlashWasm.decodeScratchBytes(p);
    const os = L.alloc((threads * sb) / 4);
    let heap: Float32Array;
    try {
      heap = this.grow(L.end);
    } catch (e) {
      // The resident caches took the room this call needs: drop them and copy k and v in.
      if (this.kv.bytes === 0) throw e;
      this.kv.clear();
      return this.decode(p, q, k, v, false);
    }
    this.lastBytes = L.end - this.kv.bytes;
    // unpadded: [heads, T, D] as they are (a cache view's heads straight from where they lie)
    putPadded(heap, q, BH, p.Tq, p.D, p.Tq, p.D, oq / 4);
    if (rk === null) putPadded(heap, k, BHkv, p.Tk, p.D, p.Tk, p.D, ok / 4);
    if (rv === null) putPadded(heap, v, BHkv, p.Tk, p.Dv, p.Tk, p.Dv, ov / 4);
    if (p.keyPadding) heap.set(kbias, okb / 4);
    if (p.alibiSlopes) heap.set(Float32Array.from(p.alibiSlopes), osl / 4);
    Object.assign(prm, { [P.q]: oq, [P.k]: ok, [P.v]: ov, [P.out]: oout, [P.lse]: olse, [P.kbias]: okb, [P.slopes]: osl, [P.scratch]: os, [P.scratchBytes]: sb });
    new Int32Array(this.memory.buffer, BASE, SLOTS).set(prm);
    this.run(OP.decode, BASE, threads, (a, t, n) => this.ex.flash_decode(a, t, n));
    const out = new Float32Array(this.memory.buffer).slice(oout / 4, oout / 4 + BH * p.Tq * p.Dv);
    return { out, saved: { lse: this.savedLse(p, olse), kbias } };
  }

  /** dq, dk, dv (unpadded) from dy [B, H, Tq, Dv] and the forward's output. */
  backward(p: FlashProblem, q: HeadBlocks, k: HeadBlocks, v: HeadBlocks, out: Float32Array, dy: Float32Array, saved: FlashSaved): [Float32Array, Float32Array, Float32Array] {
    this.makeRoom(p);
    const { Dp, Dvp, Tqp, Tkp } = padded(p);
    const [BH, BHkv] = [p.B * p.H, p.B * p.Hkv];
    const tasks = Math.min(BHkv * Math.ceil(Tkp / BK), (BH * Tqp) / QG);
    const threads = this.threadsFor(p, tasks);
    const { L, prm } = this.params(p);
    // dsum = rowsum(dy * out) [B, H, Tqp] (FlashAttention-2's D; 0 on padding rows).
    const dsum = new Float32Array(BH * Tqp);
    for (let r = 0, bh = 0; bh < BH; bh++)
      for (let i = 0; i < p.Tq; i++, r++) {
        let s = 0;
        for (let c = 0; c < p.Dv; c++) s += dy[r * p.Dv + c] * out[r * p.Dv + c];
        dsum[bh * Tqp + i] = s;
      }
    const oq = L.alloc(BH * Tqp * Dp);
    const ok = L.alloc(BHkv * Tkp * Dp);
    const okp = L.alloc(BHkv * Tkp * Dp);
    const ov = L.alloc(BHkv * Tkp * Dvp);
    const ovp = L.alloc(BHkv * Tkp * Dvp);
    const ody = L.alloc(BH * Tqp * Dvp);
    const olse = L.alloc(BH * Tqp);
    const odsum = L.alloc(BH * Tqp);
    const okb = L.alloc(p.B * Tkp);
    const osl = L.alloc(p.H);
    const odq = L.alloc(BH * Tqp * Dp);
    const odk = L.alloc(BHkv * Tkp * Dp);
    const odv = L.alloc(BHkv * Tkp * Dvp);
    const sb = FlashWasm.scratchBytes(p);
    const os = L.alloc((threads * sb) / 4);
    const heap = this.grow(L.end);
    this.lastBytes = L.end - this.kv.bytes;
    putPadded(heap, q, BH, p.Tq, p.D, Tqp, Dp, oq / 4);
    putPadded(heap, k, BHkv, p.Tk, p.D, Tkp, Dp, ok / 4);
    putPadded(heap, v, BHkv, p.Tk, p.Dv, Tkp, Dvp, ov / 4);
    putPadded(heap, dy, BH, p.Tq, p.Dv, Tqp, Dvp, ody / 4);
    heap.set(saved.lse, olse / 4);
    heap.set(dsum, odsum / 4);
    heap.set(saved.kbias, okb / 4);
    if (p.alibiSlopes) heap.set(Float32Array.from(p.alibiSlopes), osl / 4);
    Object.assign(prm, {
      [P.q]: oq,
      [P.k]: ok,
      [P.kp]: okp,
      [P.v]: ov,
      [P.vp]: ovp,
      [P.dy]: ody,
      [P.lse]: olse,
      [P.dsum]: odsum,
      [P.kbias]: okb,
      [P.slopes]: osl,
      [P.dq]: odq,
      [P.dk]: odk,
      [P.dv]: odv,
      [P.scratch]: os,
      [P.scratchBytes]: sb,
    });
    new Int32Array(this.memory.buffer, BASE, SLOTS).set(prm);
    this.ex.pack_panels(ok, BHkv * Tkp, Dp, okp);
    this.ex.pack_panels(ov, BHkv * Tkp, Dvp, ovp);
    this.run(OP.bwdKv, BASE, threads, (a, t, n) => this.ex.flash_bwd_kv(a, t, n));
    this.run(OP.bwdQ, BASE, threads, (a, t, n) => this.ex.flash_bwd_q(a, t, n));
    const h = new Float32Array(this.memory.buffer);
    return [getPadded(h, BH, p.Tq, p.D, Tqp, Dp, odq / 4), getPadded(h, BHkv, p.Tk, p.D, Tkp, Dp, odk / 4), getPadded(h, BHkv, p.Tk, p.Dv, Tkp, Dvp, odv / 4)];
  }
}

/** Whether a problem fits WebAssembly's memory with `threads` scratch areas. */
export function flashFits(p: FlashProblem): boolean {
  return FlashWasm.bytesNeeded(p, 64) <= MAX_BYTES;
}

let instance: FlashWasm | null | undefined;
let compiling = false;

function create(c: CompiledWasm | null): FlashWasm | null {
  if (!c) return null;
  const { exports, memory } = instantiateWasm<Exports>(c);
  return new FlashWasm(c.module as WebAssembly.Module, exports, memory as WebAssembly.Memory, c.relaxed);
}

/** The kernels, or null: no WebAssembly SIMD here, still compiling (browser main thread), or the 'reference' preference. */
export function flashWasm(): FlashWasm | null {
  if (getKernelPreference() === "reference") return null;
  if (instance !== undefined) return instance;
  if (compiling) return null;
  const variants = { plain: FLASH_WASM_PLAIN, shared: FLASH_WASM_SHARED, relaxed: { plain: FLASH_WASM_RELAXED_PLAIN, shared: FLASH_WASM_RELAXED_SHARED } };
  const c = compileWasm(variants, (r) => {
    instance = create(r);
    if (instance) void instance.threads.start();
  });
  if (c === undefined) {
    compiling = true; // a browser main thread: the composed forward serves until it is ready
    return null;
  }
  instance = create(c);
  if (instance) void instance.threads.start();
  return instance;
}

/**
 * Sets the number of threads the fused WASM attention uses (default: all cores, at most 16; 1
 * runs it on the calling thread only) and waits until they run; resolves to the count in effect
 * (1 where WebAssembly threads or SIMD are unavailable). Results do not depend on the count.
 */
export async function initAttentionThreads(threads?: number): Promise<number> {
  checkThreadCount("initAttentionThreads", threads);
  const k = flashWasm();
  return k ? k.threads.init(threads) : 1;
}

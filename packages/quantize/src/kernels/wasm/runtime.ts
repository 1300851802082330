/**
 * The quantized matrix-vector kernels on WebAssembly SIMD (wasm/qgemv.ts). Prepared weights stay
 * resident in the module's memory (they are immutable), up to a budget; past it the resident set
 * is dropped and refilled. Where memory can be shared (Node, cross-origin isolated pages) the
 * module runs on a worker pool (@tessera/tensor's startWasmPool): threads claim chunks of the
 * output's rows as they finish, each computed exactly as on one thread. Where WebAssembly SIMD is missing,
 * `qgemvWasm()` returns null and callers use the TypeScript reference.
 */
import { getKernelPreference, setKernelPreference, TesseraError } from "@tessera/tensor";
import {
  canShareWasmMemory,
  compileWasm,
  defaultWasmThreads,
  growWasmMemory,
  instantiateWasm,
  reserveResident,
  setWasmWeightBudget,
  startWasmPool,
  type ResidentCache,
  type WasmPool,
} from "@tessera/tensor/wasm";
import type { PreparedLinear } from "../prepared";
import { QGEMV_WASM_PLAIN, QGEMV_WASM_RELAXED_PLAIN, QGEMV_WASM_RELAXED_SHARED, QGEMV_WASM_SHARED } from "./binary";

/** Job op codes of the worker dispatch below. */
const OP = { q8: 1, q4: 2, u4: 3, dequant: 4, s8: 5 } as const;
/**
 * A job is [op, counter, chunk, N, the kernel's arguments but its row range]: threads claim
 * `chunk` rows at a time from the i32 at byte `counter` of the shared memory until N are taken
 * (a thread that runs late takes fewer), each range computed as on one thread.
 */
const DISPATCH = `
    const next = new Int32Array(memory.buffer, j[1], 1);
    for (let n0 = Atomics.add(next, 0, j[2]); n0 < j[3]; n0 = Atomics.add(next, 0, j[2])) {
      const n1 = Math.min(j[3], n0 + j[2]);
      switch (j[0]) {
        case ${OP.q8}: ex.gemv_q8(j[4], j[5], j[6], j[7], j[8], j[9], n0, n1); break;
        case ${OP.q4}: ex.gemv_q4(j[4], j[5], j[6], j[7], j[8], j[9], j[10], j[11], j[12], n0, n1); break;
        case ${OP.u4}: ex.gemv_u4(j[4], j[5], j[6], j[7], j[8], j[9], j[10], j[11], j[12], n0, n1); break;
        case ${OP.dequant}: ex.dequant_rows(j[4], j[5], j[6], j[7], j[8], j[9], j[10], j[11], n0, n1); break;
        case ${OP.s8}: ex.gemm_s8(j[4], j[5], j[6], j[7], j[8], j[9], n0, n1); break;
      }
    }`;
/** Job slots: the op, counter, chunk, N and at most 9 kernel arguments. */
const SLOTS = 14;
/**
 * Products smaller than this many weights stay on one thread (waking workers costs ~10-50 us; the
 * int4 kernels decode ~3.5 G weights a second a thread, so a 768 x 768 product takes ~170 us).
 */
const THREAD_MIN_WEIGHTS = 1 << 18;
/** Row chunks per thread that threads claim as they finish (at least 8 rows each). */
const CHUNKS_PER_THREAD = 8;

interface Exports {
  group_sums(x: number, xs: number, K: number, G: number): void;
  gemv_q8(x: number, q: number, s: number, y: number, K: number, G: number, n0: number, n1: number): void;
  gemv_q4(x: number, q: number, table: number, s: number, z: number, xs: number, y: number, K: number, G: number, n0: number, n1: number): void;
  dequant_rows(kind: number, q: number, table: number, s: number, z: number, out: number, K: number, G: number, n0: number, n1: number): void;
  gemm_s8(a: number, b: number, c: number, M: number, N: number, K: number, n0: number, n1: number): void;
  gemv_u4(xe: number, xo: number, q: number, s: number, z: number, xs: number, y: number, K: number, G: number, n0: number, n1: number): void;
}

const PAGE = 65536;
const BASE = PAGE;
interface Resident {
  codes: number;
  scales: number;
  zeros: number;
  table: number;
}

class QgemvKernels implements ResidentCache {
  private readonly resident = new Map<number, Resident>();
  private end = BASE;

  /** Resident bytes, counted in @tessera/tensor's one resident-weight budget. */
  get bytes(): number {
    return this.end - BASE;
  }

  clear(): void {
    this.resident.clear();
    this.end = BASE;
  }
  pool: WasmPool | null = null;
  constructor(
    readonly module: WebAssembly.Module,
    private readonly ex: Exports,
    readonly memory: WebAssembly.Memory,
    /** Whether this is the relaxed-SIMD build (fused multiply-adds; wasmFeatures().relaxedSimd). */
    readonly relaxed = false,
  ) {}

  /**
   * Runs a kernel over rows [0, N): `args` are its arguments but the row range, `run(args, n0, n1)`
   * calls it. On one thread run(args, 0, N); on the pool every thread, this one included, claims
   * chunks of rows from the i32 at byte `counter` (scratch the caller reserved).
   */
  private rows(N: number, work: number, op: number, args: number[], run: (a: number[], n0: number, n1: number) => void, counter: number): void {
    const pool = this.pool && !this.pool.failure ? this.pool : null; // a stopped pool: one thread
    const threads = pool && work >= THREAD_MIN_WEIGHTS ? Math.min(pool.workers + 1, Math.ceil(N / 8)) : 1;
    if (threads > 1 && pool) {
      const chunk = Math.max(8, Math.ceil(N / (CHUNKS_PER_THREAD * threads)));
      const next = new Int32Array(this.memory.buffer, counter, 1);
      next[0] = 0; // published to the workers by the pool's dispatch (an atomic store)
      for (let t = 1; t < threads; t++) pool.job(t - 1, op, [counter, chunk, N, ...args]);
      pool.run(() => {
        for (let n0 = Atomics.add(next, 0, chunk); n0 < N; n0 = Atomics.add(next, 0, chunk)) run(args, n0, Math.min(N, n0 + chunk));
      });
    } else run(args, 0, N);
  }

  private grow(to: number): Float32Array {
    try {
      growWasmMemory(this.memory, to);
    } catch (e) {
      throw new TesseraError(
        "quantizedLinear",
        `the WASM kernels need ${to} bytes of WebAssembly memory, ${this.memory.buffer.byteLength} are available and growth was refused (${(e as Error).message}); split the input into smaller batches, or setKernelPreference("reference") to run the TypeScript kernels`,
      );
    }
    return new Float32Array(this.memory.buffer);
  }

  private place(w: PreparedLinear): Resident {
    const hit = this.resident.get(w.id);
    if (hit) return hit;
    const bytes = w.codes.length + 4 * (w.scales.length + (w.zeros?.length ?? 0) + (w.table?.length ?? 0)) + 64;
    const keep = reserveResident(this, bytes); // past the one budget every cache is dropped
    const align = (v: number) => Math.ceil(v / 16) * 16;
    const codes = align(this.end);
    const scales = align(codes + w.codes.length);
    const zeros = w.zeros ? align(scales + 4 * w.scales.length) : 0;
    const table = w.table ? align((zeros || scales + 4 * w.scales.length) + 4 * (w.zeros?.length ?? 0)) : 0;
    const end = align((table || zeros || scales) + 4 * (w.table?.length ?? w.zeros?.length ?? w.scales.length));
    const f32 = this.grow(end);
    new Uint8Array(this.memory.buffer).set(w.codes, codes);
    f32.set(w.scales, scales / 4);
    if (w.zeros) f32.set(w.zeros, zeros / 4);
    if (w.table) f32.set(w.table, table / 4);
    const r = { codes, scales, zeros, table };
    if (keep) {
      this.resident.set(w.id, r);
      this.end = end;
    }
    return r;
  }

  /** y [M, N] = x [M, K] W^T for prepared q8 / q4 weights. */
  run(w: PreparedLinear, x: Float32Array, M: number, y: Float32Array): void {
    const r = this.place(w);
    const { N, K, G } = w;
    const scratch = Math.ceil(Math.max(this.end, r.table + 2048, r.scales + 4 * w.scales.length) / 16) * 16;
    const xOff = scratch;
    const xsOff = xOff + 4 * K;
    const splitOff = xsOff + 4 * (K / G) + 16; // u4: x at even positions, then at odd ones
    const yOff = splitOff + 4 * K + 16;
    const counter = Math.ceil((yOff + 4 * N) / 16) * 16; // the threads' next row (rows())
    const f32 = this.grow(counter + 16);
    for (let m = 0; m < M; m++) {
      const xm = x.subarray(m * K, (m + 1) * K);
      f32.set(xm, xOff / 4);
      if (w.kind === "q8") this.rows(N, N * K, OP.q8, [xOff, r.codes, r.scales, yOff, K, G], (a, n0, n1) => this.ex.gemv_q8(a[0], a[1], a[2], a[3], a[4], a[5], n0, n1), counter);
      else if (w.kind === "u4") {
        const h = K / 2;
        const e = splitOff / 4;
        for (let i = 0; i < h; i++) {
          f32[e + i] = xm[2 * i];
          f32[e + h + i] = xm[2 * i + 1];
        }
        this.ex.group_sums(xOff, xsOff, K, G);
        this.rows(
          N,
          N * K,
          OP.u4,
          [splitOff, splitOff + 2 * K, r.codes, r.scales, r.zeros, xsOff, yOff, K, G],
          (a, n0, n1) => this.ex.gemv_u4(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], n0, n1),
          counter,
        );
      } else {
        if (w.zeros) this.ex.group_sums(xOff, xsOff, K, G);
        this.rows(
          N,
          N * K,
          OP.q4,
          [xOff, r.codes, r.table, r.scales, r.zeros, xsOff, yOff, K, G],
          (a, n0, n1) => this.ex.gemv_q4(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], n0, n1),
          counter,
        );
      }
      y.set(new Float32Array(this.memory.buffer, yOff, N), m * N);
    }
  }

  /**
   * The float32 weight [N, K] of a prepared q8 / u4 / q4 weight, decoded from its resident codes,
   * as a fresh array the caller owns (a copy out of WASM memory: linear.ts hands it to a cpu
   * tensor without copying, so it must never be a view of memory the kernels reuse).
   */
  dequantize(w: PreparedLinear): Float32Array {
    const r = this.place(w);
    const { N, K, G } = w;
    const outOff = Math.ceil(Math.max(this.end, r.table + 2048, r.scales + 4 * w.scales.length) / 16) * 16;
    const counter = outOff + 4 * N * K; // 16-aligned: the threads' next row (rows())
    this.grow(counter + 16);
    const kind = w.kind === "q8" ? 0 : 1;
    this.rows(
      N,
      N * K,
      OP.dequant,
      [kind, r.codes, r.table, r.scales, r.zeros, outOff, K, G],
      (a, n0, n1) => this.ex.dequant_rows(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], n0, n1),
      counter,
    );
    return new Float32Array(this.memory.buffer, outOff, N * K).slice();
  }

  /** c [M, N] = a [M, K] b [N, K]^T, exactly, for int8 operands. */
  gemmS8(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
    const aOff = Math.ceil(this.end / 16) * 16;
    const bOff = Math.ceil((aOff + M * K) / 16) * 16;
    const cOff = Math.ceil((bOff + N * K) / 16) * 16;
    const counter = Math.ceil((cOff + 4 * M * N) / 16) * 16; // the threads' next row (rows())
    this.grow(counter + 16);
    const u8 = new Uint8Array(this.memory.buffer);
    u8.set(new Uint8Array(a.buffer, a.byteOffset, M * K), aOff);
    u8.set(new Uint8Array(b.buffer, b.byteOffset, N * K), bOff);
    this.rows(N, M * N * K, OP.s8, [aOff, bOff, cOff, M, N, K], (a, n0, n1) => this.ex.gemm_s8(a[0], a[1], a[2], a[3], a[4], a[5], n0, n1), counter);
    return new Int32Array(this.memory.buffer, cOff, M * N).slice();
  }

  forget(w: PreparedLinear): void {
    this.resident.delete(w.id);
  }
}

let instance: QgemvKernels | null | undefined;

/**
 * Use (default) or bypass the fast paths; the TypeScript reference stays the oracle.
 * @deprecated Use `setKernelPreference(on ? "fast" : "reference")` from @tessera/tensor: since
 * 0.2 this is an alias of it (so it switches every package's fast paths). Removed in the next release.
 */
export function setQuantizedWasm(on: boolean): void {
  setKernelPreference(on ? "fast" : "reference");
}

/**
 * Sets the byte budget of weights kept resident in WASM memory (default 1 GiB).
 * @deprecated Since 0.2 there is one budget for the cpu backend's and the packages' kernels:
 * this is an alias of `setWasmWeightBudget` from `@tessera/tensor/wasm`. Removed in the next release.
 */
export function setQuantizedWeightBudget(bytes: number): void {
  if (!(bytes >= 0)) throw new RangeError(`setQuantizedWeightBudget: bytes must be >= 0, got ${bytes}`);
  setWasmWeightBudget(bytes);
}

let starting: Promise<number> | null = null;

/** Starts the worker pool in the background (once); resolves to the thread count in effect. */
function startThreads(k: QgemvKernels): Promise<number> {
  starting ??= (async () => {
    if (!canShareWasmMemory()) return 1;
    const n = Math.max(1, Math.min(await defaultWasmThreads(), 16));
    if (n < 2) return 1;
    try {
      k.pool = await startWasmPool(k.module, k.memory, n - 1, { dispatch: DISPATCH, slots: SLOTS });
      return n;
    } catch {
      return 1;
    }
  })();
  return starting;
}

/** Waits until the kernels run on all threads; resolves to the thread count (1 without threads or SIMD). */
export async function initQuantizedThreads(): Promise<number> {
  const k = qgemvWasm();
  return k ? startThreads(k) : 1;
}

export function qgemvWasm(): QgemvKernels | null {
  if (getKernelPreference() === "reference") return null;
  if (instance !== undefined) return instance;
  // Small enough to compile synchronously everywhere (no background compile).
  const c = compileWasm({ plain: QGEMV_WASM_PLAIN, shared: QGEMV_WASM_SHARED, relaxed: { plain: QGEMV_WASM_RELAXED_PLAIN, shared: QGEMV_WASM_RELAXED_SHARED } }); // relaxed: fused multiply-adds
  if (!c) return (instance = null);
  try {
    const { exports, memory } = instantiateWasm<Exports>(c);
    instance = new QgemvKernels(c.module as WebAssembly.Module, exports, memory as WebAssembly.Memory, c.relaxed);
    void startThreads(instance);
  } catch {
    instance = null;
  }
  return instance;
}

/**
 * The quantized matrix-vector kernels on WebAssembly SIMD (wasm/qgemv.ts). Prepared weights stay
 * resident in the module's memory (they are immutable), up to a budget; past it the resident set
 * is dropped and refilled. Where memory can be shared (Node, cross-origin isolated pages) the
 * module runs on a worker pool (@tessera/tensor's startWasmPool): rows of the output are split
 * over the threads, each computed exactly as on one thread. Where WebAssembly SIMD is missing,
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
const DISPATCH = `
    switch (j[0]) {
      case ${OP.q8}: ex.gemv_q8(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8]); break;
      case ${OP.q4}: ex.gemv_q4(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9], j[10], j[11]); break;
      case ${OP.u4}: ex.gemv_u4(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9], j[10], j[11]); break;
      case ${OP.dequant}: ex.dequant_rows(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9], j[10]); break;
      case ${OP.s8}: ex.gemm_s8(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8]); break;
    }`;
/** Products smaller than this many weights stay on one thread (waking workers costs ~10-50 us). */
const THREAD_MIN_WEIGHTS = 1 << 20;

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

  /** Runs job(n0, n1) over row ranges: shares t > 0 on workers, t = 0 here. */
  private rows(N: number, work: number, op: number, args: (n0: number, n1: number) => number[], own: (a: number[]) => void): void {
    const pool = this.pool && !this.pool.failure ? this.pool : null; // a stopped pool: one thread
    const threads = pool && work >= THREAD_MIN_WEIGHTS ? Math.min(pool.workers + 1, Math.ceil(N / 8)) : 1;
    const per = Math.ceil(N / threads);
    const share = (t: number) => args(Math.min(N, t * per), Math.min(N, (t + 1) * per));
    if (threads > 1 && pool) {
      for (let t = 1; t < threads; t++) pool.job(t - 1, op, share(t));
      pool.run(() => own(share(0)));
    } else own(share(0));
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
    const f32 = this.grow(yOff + 4 * N);
    for (let m = 0; m < M; m++) {
      const xm = x.subarray(m * K, (m + 1) * K);
      f32.set(xm, xOff / 4);
      if (w.kind === "q8")
        this.rows(
          N,
          N * K,
          OP.q8,
          (n0, n1) => [xOff, r.codes, r.scales, yOff, K, G, n0, n1],
          (a) => this.ex.gemv_q8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]),
        );
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
          (n0, n1) => [splitOff, splitOff + 2 * K, r.codes, r.scales, r.zeros, xsOff, yOff, K, G, n0, n1],
          (a) => this.ex.gemv_u4(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]),
        );
      } else {
        if (w.zeros) this.ex.group_sums(xOff, xsOff, K, G);
        this.rows(
          N,
          N * K,
          OP.q4,
          (n0, n1) => [xOff, r.codes, r.table, r.scales, r.zeros, xsOff, yOff, K, G, n0, n1],
          (a) => this.ex.gemv_q4(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]),
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
    this.grow(outOff + 4 * N * K);
    const kind = w.kind === "q8" ? 0 : 1;
    this.rows(
      N,
      N * K,
      OP.dequant,
      (n0, n1) => [kind, r.codes, r.table, r.scales, r.zeros, outOff, K, G, n0, n1],
      (a) => this.ex.dequant_rows(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]),
    );
    return new Float32Array(this.memory.buffer, outOff, N * K).slice();
  }

  /** c [M, N] = a [M, K] b [N, K]^T, exactly, for int8 operands. */
  gemmS8(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
    const aOff = Math.ceil(this.end / 16) * 16;
    const bOff = Math.ceil((aOff + M * K) / 16) * 16;
    const cOff = Math.ceil((bOff + N * K) / 16) * 16;
    this.grow(cOff + 4 * M * N);
    const u8 = new Uint8Array(this.memory.buffer);
    u8.set(new Uint8Array(a.buffer, a.byteOffset, M * K), aOff);
    u8.set(new Uint8Array(b.buffer, b.byteOffset, N * K), bOff);
    this.rows(
      N,
      M * N * K,
      OP.s8,
      (n0, n1) => [aOff, bOff, cOff, M, N, K, n0, n1],
      (j) => this.ex.gemm_s8(j[0], j[1], j[2], j[3], j[4], j[5], j[6], j[7]),
    );
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
      k.pool = await startWasmPool(k.module, k.memory, n - 1, { dispatch: DISPATCH, slots: 12 });
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

/**
 * The WASM SIMD runtime for the cpu backend: compiles the embedded module on first use (sync;
 * it is ~1.5 KB), owns its linear memory, and runs GEMMs by copying operands in and the result
 * out, splitting rows over worker threads where shared memory is available (threads.ts).
 * Where WebAssembly SIMD is missing, `wasmGemm()` returns null and callers keep to the
 * TypeScript kernels. `setCpuSimd(false)` turns the path off (the conformance suite compares
 * the two).
 */
import { GEMM_WASM_PLAIN, GEMM_WASM_SHARED } from "./binary";
import { startPool, type Pool } from "./threads";

interface GemmExports {
  pack_a(a: number, K: number, m0: number, m1: number, ap: number): void;
  pack_b(b: number, K: number, N: number, bp: number): void;
  gemm_rows(ap: number, bp: number, c: number, m0: number, m1: number, N: number, K: number, scratch: number): void;
}

const PAGE = 65536;
/** Reserved low memory: the module's own data and the thread control block (threads.ts CTL) stay below this. */
const BASE = PAGE;

/** Below this many multiply-adds a GEMM stays on one thread (waking workers costs ~10-50 us). */
const THREAD_MIN_MACS = 1 << 21;

export class WasmGemm {
  private exports: GemmExports;
  pool: Pool | null = null;
  constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
  ) {
    this.exports = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error("wasm abort"); } } }).exports as unknown as GemmExports;
  }

  private reserve(bytes: number): void {
    const need = Math.ceil((BASE + bytes) / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) this.memory.grow(need);
  }

  /**
   * C = A B for row-major float32 A [M, K] and B [K, N]. `reuseB` skips copying and packing B
   * when the previous call had the same B (a weight shared by a batch).
   */
  gemm(a: Float32Array, b: Float32Array, M: number, N: number, K: number, out: Float32Array, reuseB = false): void {
    const f = 4;
    const mPad = Math.ceil(M / 4) * 4;
    const nPad = Math.ceil(N / 8) * 8;
    const pool = this.pool && M * N * K >= THREAD_MIN_MACS && M >= 8 ? this.pool : null;
    const threads = pool ? pool.workers + 1 : 1;
    // Layout: [B | Bp | A | Ap (row panels; each thread packs its own rows) | C | scratch x threads]
    const bOff = BASE;
    const bpOff = bOff + K * N * f;
    const aOff = bpOff + nPad * K * f;
    const apOff = aOff + M * K * f;
    const cOff = apOff + (mPad + 4 * threads) * K * f;
    const sOff = cOff + M * N * f;
    this.reserve(sOff + 128 * threads - BASE);
    const heap = new Float32Array(this.memory.buffer);
    if (!reuseB) {
      heap.set(b.subarray(0, K * N), bOff / f);
      this.exports.pack_b(bOff, K, N, bpOff);
    }
    heap.set(a.subarray(0, M * K), aOff / f);
    // Rows split in multiples of 4; thread t packs its rows at its own Ap offset.
    const per = Math.ceil(M / 4 / threads) * 4;
    const share = (t: number) => ({ m0: Math.min(M, t * per), m1: Math.min(M, (t + 1) * per), ap: apOff + t * (per + 4) * K * f, scratch: sOff + 128 * t });
    const own = () => {
      const s = share(0);
      this.exports.pack_a(aOff, K, s.m0, s.m1, s.ap);
      this.exports.gemm_rows(s.ap, bpOff, cOff, s.m0, s.m1, N, K, s.scratch);
    };
    if (pool) {
      for (let t = 1; t < threads; t++) pool.job(t - 1, { ...share(t), bp: bpOff, c: cOff, N, K, a: aOff });
      pool.run(own);
    } else own();
    out.set(new Float32Array(this.memory.buffer, cOff, M * N));
  }
}

let instance: WasmGemm | null | undefined;
let enabled = true;
let wantedThreads: number | null = null;
let starting: Promise<number> | null = null;

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Whether this environment can share WebAssembly memory with workers. */
function canShare(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; process?: { versions?: { node?: string } } };
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined") return false;
  return !!g.process?.versions?.node || g.crossOriginIsolated === true;
}

function create(): WasmGemm | null {
  try {
    if (canShare()) {
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 32768, shared: true });
      return new WasmGemm(new WebAssembly.Module(decode(GEMM_WASM_SHARED)), memory);
    }
  } catch {
    // fall through to the single-threaded build
  }
  try {
    return new WasmGemm(new WebAssembly.Module(decode(GEMM_WASM_PLAIN)), new WebAssembly.Memory({ initial: 2 }));
  } catch {
    return null; // no WebAssembly SIMD: the TypeScript kernels serve
  }
}

async function defaultThreads(): Promise<number> {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    const spec = "node:os";
    const os = (await import(/* @vite-ignore */ spec)) as typeof import("node:os");
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return g.navigator?.hardwareConcurrency ?? 1;
}

/** Starts the worker pool in the background (once); GEMMs use it as soon as it is ready. */
function startThreads(g: WasmGemm): Promise<number> {
  starting ??= (async () => {
    const n = Math.max(1, Math.min(wantedThreads ?? (await defaultThreads()), 16));
    if (n < 2 || !canShare()) return 1;
    try {
      g.pool = await startPool(g.module, g.memory, n - 1);
      return n;
    } catch {
      return 1;
    }
  })();
  return starting;
}

/** The WASM GEMM, or null where WebAssembly SIMD is unavailable or the path is turned off. */
export function wasmGemm(): WasmGemm | null {
  if (!enabled) return null;
  if (instance === undefined) {
    instance = create();
    if (instance) void startThreads(instance);
  }
  return instance;
}

/**
 * Sets the number of threads the cpu backend's GEMM uses (default: all cores) and waits until
 * they run; resolves to the count in effect (1 where threads are unavailable). Call it before
 * the first matmul to pick a count other than the default.
 */
export async function initCpuThreads(threads?: number): Promise<number> {
  if (threads !== undefined) wantedThreads = threads;
  const g = wasmGemm();
  if (!g) return 1;
  return startThreads(g);
}

/** Turns the cpu backend's WASM SIMD path on or off (on by default); returns the previous setting. */
export function setCpuSimd(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Whether the WASM SIMD path is on and available here. */
export function cpuSimdAvailable(): boolean {
  return wasmGemm() !== null;
}

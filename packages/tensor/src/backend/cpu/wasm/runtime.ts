/**
 * The WASM SIMD runtime for the cpu backend: instantiates the embedded module on first use,
 * owns its linear memory, and runs kernels by copying operands in and results out, splitting
 * the work over worker threads where memory can be shared (threads.ts). Where WebAssembly SIMD
 * is missing, `wasmKernels()` returns null and callers keep to the TypeScript kernels, which
 * stay the reference: `setCpuSimd(false)` selects them (the tests compare the two).
 */
import { KERNELS_WASM_PLAIN, KERNELS_WASM_RELAXED_PLAIN, KERNELS_WASM_RELAXED_SHARED, KERNELS_WASM_SHARED } from "./binary";
import type { StorageArray } from "../../../core/dtype";
import { ResidentWeights } from "./resident";
import { canShareWasmMemory, compileWasm, createWasmMemory, defaultWasmThreads, setWasmWeightBudget, wasmWeightBudget } from "./loader";
import { OP, startPool, type Pool } from "./threads";
import { TesseraError } from "../../../core/errors";
import { getKernelPreference, setKernelPreference } from "../../../core/kernels";

interface Exports {
  pack_a(a: number, K: number, m0: number, m1: number, ap: number): void;
  pack_b(b: number, K: number, N: number, bp: number): void;
  pack_bt(w: number, K: number, N: number, bp: number): void;
  gemv_n(x: number, b: number, y: number, K: number, N: number, j0: number, j1: number): void;
  gemv_t(x: number, w: number, y: number, K: number, n0: number, n1: number): void;
  gemv_n_h(x: number, b: number, y: number, K: number, N: number, j0: number, j1: number, bf: number): void;
  gemv_t_h(x: number, w: number, y: number, K: number, n0: number, n1: number, bf: number): void;
  gemm_rows(ap: number, bp: number, c: number, m0: number, m1: number, N: number, K: number, scratch: number): void;
  gemm_rows_bias(ap: number, bp: number, c: number, m0: number, m1: number, N: number, K: number, scratch: number, bias: number): void;
  gemm_cols_bias(ap: number, bp: number, c: number, M: number, N: number, K: number, scratch: number, bias: number, counter: number, chunk: number): void;
  gemv_packed_claimed(x: number, bp: number, y: number, K: number, N: number, bias: number, counter: number, chunk: number): void;
  softmax_rows(x: number, out: number, r0: number, r1: number, D: number, log: number): void;
  norm_rows(x: number, w: number, b: number, out: number, r0: number, r1: number, D: number, epsBits: number, rms: number): void;
  unary_range(op: number, x: number, out: number, i0: number, i1: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
}

/** Unary op codes of wasm/rows.ts unary_range. */
export const WASM_UNARY = { exp: 0, sigmoid: 1, silu: 2, gelu: 3, tanh: 4, gelu_tanh: 5 } as const;

const PAGE = 65536;
/** Reserved low memory: the module's own data and the thread control block stay below this. */
const BASE = PAGE;
/** Smaller B operands are copied each time (cheap). */
const RESIDENT_MIN_BYTES = 1 << 18;
/** Below this many multiply-adds a GEMM stays on one thread (waking workers costs ~10-50 us). */
const THREAD_MIN_MACS = 1 << 21;
/**
 * A threaded GEMM with at least COLUMN_SPLIT_MIN_PANELS column panels (8 columns) per thread
 * splits the columns in chunks that threads claim as they finish (gemm_cols_bias): about
 * COLUMN_CHUNKS_PER_THREAD per thread, at most COLUMN_CHUNK_MAX_PANELS panels and
 * COLUMN_CHUNK_FLOATS of C (256 KiB, in L2) each. Narrower products split the rows: there each
 * thread packs its own rows of A in parallel, where the column split packs all of A on the
 * calling thread first (7-12% longer at N = 128, about even from N = 768). GPT-2's [128 x 768] x
 * [768 x 2304] on 2 threads: the worker's half of the rows took 17% longer than the calling
 * thread's (both read all of B).
 */
const COLUMN_SPLIT_MIN_PANELS = 32;
const COLUMN_CHUNKS_PER_THREAD = 8;
const COLUMN_CHUNK_MAX_PANELS = 128;
const COLUMN_CHUNK_FLOATS = 1 << 16;
/**
 * A GEMV (M = 1) is memory-bound: each multiply-add streams 4 bytes of weight (~0.3 ns at one
 * core's ~12 GB/s), so a second thread pays off from far fewer of them than a GEMM's, ~40 us of
 * work (GPT-2's 768x768 and 768x2304 decode products were left on one thread at 1 << 21).
 */
const GEMV_THREAD_MIN_MACS = 1 << 17;
/**
 * Chunks per thread of a threaded packed GEMV (whole groups of 32 columns, claimed as threads
 * finish). On 2 threads the worker's static half of a [768 x 2304] product held the caller up by
 * a third of its own time (L3-resident weights); claiming evens that out.
 */
const GEMV_CHUNKS_PER_THREAD = 8;
/** Row and elementwise kernels use threads from this many elements (per streamed chunk: a quarter). */
const THREAD_MIN_ELEMS = 1 << 16;
/** Elements per streamed chunk: input + output windows of 256 KiB each stay in L2. */
const CHUNK_ELEMS = 1 << 16;

/** The resident-cache key of B's packed panels. */
const packedKey = (off: number, transB: boolean, K: number, N: number) => `${off}:${K}x${N}:${transB ? "t" : "n"}:packed`;

const f32bits = (v: number): number => new Int32Array(new Float32Array([v]).buffer)[0];

export class WasmKernels {
  private readonly ex: Exports;
  pool: Pool | null = null;
  constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    /** Whether this is the relaxed-SIMD build (fused multiply-add in the products; wasmFeatures().relaxedSimd). */
    readonly relaxed = false,
  ) {
    this.ex = new WebAssembly.Instance(module, {
      env: {
        memory,
        abort: () => {
          throw new Error("wasm abort");
        },
      },
    }).exports as unknown as Exports;
  }

  /** Weights kept in WASM memory between products (resident.ts); scratch starts above them. */
  readonly resident = new ResidentWeights(BASE);

  /** Where kernels' scratch space starts. */
  private get scratch(): number {
    return this.resident.end;
  }

  /** Grows memory so that [scratch, scratch + bytes) exists; returns a fresh f32 view. */
  private heap(bytes: number): Float32Array {
    const need = Math.ceil((this.scratch + bytes) / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) {
      try {
        this.memory.grow(need);
      } catch (e) {
        // WebAssembly memory is capped (2 GiB shared, 4 GiB at most): callers fall back to the
        // TypeScript kernels (see wasmFits).
        throw new WasmMemoryExhausted(
          `${this.scratch + bytes} bytes of WASM memory needed, ${this.memory.buffer.byteLength} available and growth refused (${(e as Error).message})`,
        );
      }
    }
    return new Float32Array(this.memory.buffer);
  }

  /**
   * The byte offset of B's data in WASM memory when it is (or now becomes) resident, else null
   * (the caller copies it into scratch). `src` is B's storage array and `off` its element offset.
   */
  private residentB(b: Float32Array | Uint16Array, src: StorageArray | null, off: number, transB: boolean, K: number, N: number): number | null {
    const bytes = K * N * b.BYTES_PER_ELEMENT;
    if (!src || bytes < RESIDENT_MIN_BYTES || this.resident.budget <= 0) return null;
    const key = `${off}:${K}x${N}:${transB ? "t" : "n"}:${b.BYTES_PER_ELEMENT}`;
    const at = this.resident.lookup(src, key);
    if (at !== undefined) return at;
    const slot = this.resident.admit(src, key, bytes);
    if (slot === null) return null;
    if (!this.growForResident(this.resident.end)) return null;
    this.copyIn(b.subarray(0, K * N), slot);
    return slot;
  }

  /**
   * Grows memory so that bytes [0, end) exist for a weight being admitted; false (with every
   * resident weight dropped, so products copy per call) when memory cannot grow that far.
   */
  private growForResident(end: number): boolean {
    const need = Math.ceil(end / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need <= 0) return true;
    try {
      this.memory.grow(need);
      return true;
    } catch {
      this.resident.clear();
      return false;
    }
  }

  /**
   * The byte offset of B's packed panels (pack_b / pack_bt: [ceil(N / 8)][K][8] floats) when they
   * are (or now become) resident, else null. Kept packed, a weight is packed once instead of per
   * product, and the GEMV kernel reads the same panels as one sequential stream
   * (wasm/epilogue.ts), so prefill and decoding share one resident copy.
   */
  private residentPacked(b: Float32Array, src: StorageArray | null, off: number, transB: boolean, K: number, N: number): number | null {
    if (!src || K * N * 4 < RESIDENT_MIN_BYTES || this.resident.budget <= 0) return null;
    const key = packedKey(off, transB, K, N);
    const at = this.resident.lookup(src, key);
    if (at !== undefined) return at;
    const slot = this.resident.admit(src, key, Math.ceil(N / 8) * 8 * K * 4);
    if (slot === null) return null;
    // Raw B goes to scratch (above the new resident end), then is packed into the slot.
    const raw = this.resident.end;
    if (!this.growForResident(raw + K * N * 4)) return null;
    this.copyIn(b.subarray(0, K * N), raw);
    if (transB) this.ex.pack_bt(raw, K, N, slot);
    else this.ex.pack_b(raw, K, N, slot);
    return slot;
  }

  /** Where B's packed panels are resident, without admitting them; null when they are not. */
  private packedAt(src: StorageArray | null, off: number, transB: boolean, K: number, N: number): number | null {
    return src ? (this.resident.lookup(src, packedKey(off, transB, K, N)) ?? null) : null;
  }

  /** Copies an f32 or u16 array into WASM memory at byte offset `at` (which exists). */
  private copyIn(v: Float32Array | Uint16Array, at: number): void {
    if (v instanceof Float32Array) new Float32Array(this.memory.buffer).set(v, at / 4);
    else new Uint16Array(this.memory.buffer).set(v, at / 2);
  }

  /** Sets the i32 at byte `at` that threads claim chunks from (gemm_cols_bias, gemv_packed_claimed) to 0; the pool's dispatch (an atomic store) publishes it to the workers. */
  private resetClaims(at: number): void {
    new Int32Array(this.memory.buffer, at, 1)[0] = 0;
  }

  /** Runs `share(t)` for t = 0..threads-1: t > 0 on workers (as op-coded jobs), t = 0 here. */
  private split(threads: number, op: number, share: (t: number) => number[], own: (args: number[]) => void): void {
    if (threads > 1 && this.pool && !this.pool.failure) {
      for (let t = 1; t < threads; t++) this.pool.job(t - 1, op, share(t));
      this.pool.run(() => own(share(0)));
    } else own(share(0));
  }

  private threadsFor(work: number, min: number, units: number): number {
    return this.pool && !this.pool.failure && work >= min ? Math.max(1, Math.min(this.pool.workers + 1, units)) : 1;
  }

  /**
   * C = A B for row-major float32 A [M, K] and B [K, N] (or, with `transB`, B = W^T for W
   * [N, K] row-major). `reuseB` skips copying and packing B when the previous call had the
   * same B (a weight shared by a batch); a resident weight is kept packed (residentPacked).
   * `bias` [N] is added to every row of C in the kernel's epilogue.
   */
  gemm(
    a: Float32Array,
    b: Float32Array,
    M: number,
    N: number,
    K: number,
    out: Float32Array,
    reuseB = false,
    transB = false,
    bSrc: StorageArray | null = null,
    bSrcOff = 0,
    bias: Float32Array | null = null,
  ): void {
    const mPad = Math.ceil(M / 4) * 4;
    const nPad = Math.ceil(N / 8) * 8;
    const panels = nPad / 8;
    // Threads: as many as the row blocks (4 rows) or, for the column split, the column chunks allow
    // (a 5-row product over a wide weight splits its columns)
    const most = this.threadsFor(M * N * K, THREAD_MIN_MACS, Math.max(Math.floor(M / 4), Math.floor(panels / COLUMN_SPLIT_MIN_PANELS)));
    const byColumns = most > 1 && panels >= COLUMN_SPLIT_MIN_PANELS * most;
    const threads = byColumns ? most : Math.max(1, Math.min(most, Math.floor(M / 4)));
    // With reuseB, B (empty here) is what the previous call of the same batch loop used: resident
    // then (a lookup finds it), or packed at the same scratch offset as now.
    const packed = reuseB ? this.packedAt(bSrc, bSrcOff, transB, K, N) : this.residentPacked(b, bSrc, bSrcOff, transB, K, N);
    const base = this.scratch;
    // Layout (bytes): [B and Bp (unless packed resident) | bias | A | Ap (split rows: each thread packs
    // its own; split columns: packed once here) | C | scratch x threads | the column chunks' counter]
    const bOff = base;
    const bpOff = packed ?? bOff + K * N * 4;
    const biasOff = packed === null ? bpOff + nPad * K * 4 : base;
    const aOff = biasOff + (bias ? nPad * 4 : 0);
    const apOff = aOff + M * K * 4;
    const cOff = apOff + (mPad + 4 * threads) * K * 4;
    const sOff = cOff + M * N * 4;
    const heap = this.heap(sOff + 128 * threads + 16 - base); // + the column chunks' counter
    if (!reuseB && packed === null) {
      heap.set(b.subarray(0, K * N), bOff / 4);
      if (transB) this.ex.pack_bt(bOff, K, N, bpOff);
      else this.ex.pack_b(bOff, K, N, bpOff);
    }
    if (bias) heap.set(bias.subarray(0, N), biasOff / 4);
    heap.set(a.subarray(0, M * K), aOff / 4);
    if (byColumns) {
      // Threads claim chunks of column panels (wasm/epilogue.ts gemm_cols_bias): each weight
      // panel is read once between them, and a thread that runs late takes fewer chunks. Chunks:
      // ~COLUMN_CHUNKS_PER_THREAD a thread, C blocks of at most COLUMN_CHUNK_FLOATS, an even
      // number of panels (two threads' chunks never share a 64-byte line of C).
      const widest = Math.min(COLUMN_CHUNK_MAX_PANELS, Math.max(2, Math.floor(COLUMN_CHUNK_FLOATS / (8 * M))));
      const chunk = 2 * Math.ceil(Math.min(widest, Math.ceil(panels / (COLUMN_CHUNKS_PER_THREAD * threads))) / 2);
      const counter = sOff + 128 * threads;
      this.ex.pack_a(aOff, K, 0, M, apOff);
      this.resetClaims(counter);
      // [ap, bp, c, M, N, K, scratch, bias, counter, chunk]
      const share = (t: number) => [apOff, bpOff, cOff, M, N, K, sOff + 128 * t, bias ? biasOff : 0, counter, chunk];
      this.split(threads, OP.gemmCols, share, (j) => this.ex.gemm_cols_bias(j[0], j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9]));
    } else {
      const per = Math.ceil(M / 4 / threads) * 4;
      // [ap, bp, c, m0, m1, N, K, scratch, a, bias]
      const share = (t: number) => [apOff + t * (per + 4) * K * 4, bpOff, cOff, Math.min(M, t * per), Math.min(M, (t + 1) * per), N, K, sOff + 128 * t, aOff, bias ? biasOff : 0];
      this.split(threads, OP.gemm, share, (j) => {
        this.ex.pack_a(j[8], K, j[3], j[4], j[0]);
        this.ex.gemm_rows_bias(j[0], j[1], j[2], j[3], j[4], N, K, j[7], j[9]);
      });
    }
    out.set(new Float32Array(this.memory.buffer, cOff, M * N));
  }

  /**
   * C = A B for few rows (M <= 4: decoding), reading B once in its stored layout instead of
   * packing it: B [K, N] row-major, or with `transB` W [N, K] row-major (B = W^T). Threads
   * split the output columns. A Uint16Array B holds float16 bits, or bfloat16 bits with `bf`
   * (wasm/gemv-half.ts: widened in registers; it stays resident at 2 bytes an element). A
   * float32 weight kept resident is read from its packed panels (wasm/epilogue.ts gemv_packed, its columns claimed by the threads: gemv_packed_claimed).
   * `bias` [N] is added to every output row.
   */
  gemv(
    a: Float32Array,
    b: Float32Array | Uint16Array,
    M: number,
    N: number,
    K: number,
    out: Float32Array,
    transB: boolean,
    bSrc: StorageArray | null = null,
    bSrcOff = 0,
    bf = false,
    bias: Float32Array | null = null,
  ): void {
    const half = b instanceof Uint16Array;
    if (!half && this.gemvPacked(a, b as Float32Array, M, N, K, out, transB, bSrc, bSrcOff, bias)) return;
    // float32 weights are kept packed (above); half ones in their stored layout.
    const resident = half ? this.residentB(b, bSrc, bSrcOff, transB, K, N) : null;
    const base = this.scratch;
    const bOff = resident ?? base;
    const xOff = resident === null ? bOff + Math.ceil((K * N * b.BYTES_PER_ELEMENT) / 16) * 16 : base;
    const yOff = xOff + M * K * 4;
    this.heap(yOff + M * N * 4 - base);
    if (resident === null) this.copyIn(b.subarray(0, K * N), bOff);
    this.copyIn(a.subarray(0, M * K), xOff);
    const threads = this.threadsFor(N * K, GEMV_THREAD_MIN_MACS, Math.floor(N / 64));
    const per = Math.ceil(N / threads / 16) * 16;
    for (let i = 0; i < M; i++) {
      const [x, y] = [xOff + i * K * 4, yOff + i * N * 4];
      // [x, b, y, K, N, j0, j1, transB, bf]
      const share = (t: number) => [x, bOff, y, K, N, Math.min(N, t * per), Math.min(N, (t + 1) * per), transB ? 1 : 0, bf ? 1 : 0];
      if (half)
        this.split(threads, OP.gemvHalf, share, (j) =>
          j[7] ? this.ex.gemv_t_h(j[0], j[1], j[2], j[3], j[5], j[6], j[8]) : this.ex.gemv_n_h(j[0], j[1], j[2], j[3], j[4], j[5], j[6], j[8]),
        );
      else this.split(threads, OP.gemv, share, (j) => (j[7] ? this.ex.gemv_t(j[0], j[1], j[2], j[3], j[5], j[6]) : this.ex.gemv_n(j[0], j[1], j[2], j[3], j[4], j[5], j[6])));
    }
    out.set(new Float32Array(this.memory.buffer, yOff, M * N));
    if (bias) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] += bias[j];
  }

  /** gemv from B's resident packed panels (false, having done nothing, when B is not resident). */
  private gemvPacked(
    a: Float32Array,
    b: Float32Array,
    M: number,
    N: number,
    K: number,
    out: Float32Array,
    transB: boolean,
    bSrc: StorageArray | null,
    bSrcOff: number,
    bias: Float32Array | null,
  ): boolean {
    const bp = this.residentPacked(b, bSrc, bSrcOff, transB, K, N);
    if (bp === null) return false;
    const base = this.scratch;
    const biasOff = base;
    const xOff = biasOff + (bias ? Math.ceil(N / 8) * 32 : 0);
    const yOff = xOff + M * K * 4;
    const counter = Math.ceil((yOff + M * N * 4) / 16) * 16;
    const heap = this.heap(counter + 16 - base);
    if (bias) heap.set(bias.subarray(0, N), biasOff / 4);
    heap.set(a.subarray(0, M * K), xOff / 4);
    const threads = this.threadsFor(N * K, GEMV_THREAD_MIN_MACS, Math.floor(N / 64));
    // Threads claim chunks of whole 4-panel groups (gemv_packed_claimed): one that runs late takes
    // fewer instead of holding the product up. One thread takes all N columns as one chunk.
    const chunk = threads > 1 ? Math.max(32, Math.ceil(N / (GEMV_CHUNKS_PER_THREAD * threads) / 32) * 32) : N;
    for (let i = 0; i < M; i++) {
      this.resetClaims(counter);
      // [x, bp, y, K, N, bias, counter, chunk]
      const share = () => [xOff + i * K * 4, bp, yOff + i * N * 4, K, N, bias ? biasOff : 0, counter, chunk];
      this.split(threads, OP.gemvClaimed, share, (j) => this.ex.gemv_packed_claimed(j[0], j[1], j[2], j[3], j[4], j[5], j[6], j[7]));
    }
    out.set(new Float32Array(this.memory.buffer, yOff, M * N));
    return true;
  }

  /**
   * Streams rows of x [rows, D] through cache-sized windows of WASM memory: copy a chunk of rows
   * in, run `kernel` on it, copy the result out. Reading the input once and writing the output
   * once beats copying whole tensors in and out. `reserve` bytes before the windows are the
   * kernel's own (weights).
   *
   * With worker threads the chunks are pipelined over two pairs of windows: while the workers
   * run the kernel on chunk c, this thread copies chunk c - 1's result out and chunk c + 1 in
   * (the copies are half of a row op's time and only this thread can reach x and out). This thread
   * takes no rows itself: on 2 cores the copies take about as long as the worker's kernel calls
   * (softmax of [8, 1024, 1024]: 10.8 ms so, 11.4 with 15% of the rows here, 13.5 with 25%).
   * Every row is computed by the same kernel whatever the split, so results equal one thread's.
   */
  private streamRows(
    x: Float32Array,
    out: Float32Array,
    rows: number,
    D: number,
    op: number,
    reserve: number,
    args: (xOff: number, oOff: number, r0: number, r1: number) => number[],
    run: (j: number[]) => void,
  ): void {
    const chunkRows = Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMS / Math.max(D, 1))));
    const chunks = Math.ceil(rows / chunkRows);
    const threads = this.threadsFor(rows * D, THREAD_MIN_ELEMS / 4, chunkRows);
    const window = 4 * chunkRows * D;
    if (threads > 1 && chunks > 1) {
      this.streamRowsPipelined(x, out, rows, D, op, reserve, args, run, chunkRows, chunks, threads);
      return;
    }
    const xOff = this.scratch + reserve;
    const oOff = xOff + window;
    let heap = this.heap(reserve + 2 * window);
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const r1 = Math.min(rows, r0 + chunkRows);
      const n = (r1 - r0) * D;
      if (heap.buffer !== this.memory.buffer) heap = new Float32Array(this.memory.buffer);
      heap.set(x.subarray(r0 * D, r1 * D), xOff / 4);
      const cr = r1 - r0;
      const per = Math.ceil(cr / threads);
      this.split(threads, op, (t) => args(xOff, oOff, Math.min(cr, t * per), Math.min(cr, (t + 1) * per)), run);
      out.set(heap.subarray(oOff / 4, oOff / 4 + n), r0 * D);
    }
  }

  /** streamRows with the copies of this thread overlapping the workers' kernel calls (see there). */
  private streamRowsPipelined(
    x: Float32Array,
    out: Float32Array,
    rows: number,
    D: number,
    op: number,
    reserve: number,
    args: (xOff: number, oOff: number, r0: number, r1: number) => number[],
    run: (j: number[]) => void,
    chunkRows: number,
    chunks: number,
    threads: number,
  ): void {
    const window = 4 * chunkRows * D;
    // Byte offsets of the input and output windows of chunks c with c % 2 = 0 and 1.
    const xOff = [this.scratch + reserve, this.scratch + reserve + window];
    const oOff = [xOff[1] + window, xOff[1] + 2 * window];
    const heap = this.heap(reserve + 4 * window);
    const rowsOf = (c: number): [number, number] => [c * chunkRows, Math.min(rows, (c + 1) * chunkRows)];
    const copyIn = (c: number) => {
      const [r0, r1] = rowsOf(c);
      heap.set(x.subarray(r0 * D, r1 * D), xOff[c & 1] / 4);
    };
    const copyOut = (c: number) => {
      const [r0, r1] = rowsOf(c);
      out.set(heap.subarray(oOff[c & 1] / 4, oOff[c & 1] / 4 + (r1 - r0) * D), r0 * D);
    };
    const workers = threads - 1;
    copyIn(0);
    for (let c = 0; c < chunks; c++) {
      const [r0, r1] = rowsOf(c);
      const cr = r1 - r0;
      const per = Math.ceil(cr / workers);
      const [xo, oo] = [xOff[c & 1], oOff[c & 1]];
      const copies = () => {
        if (c > 0) copyOut(c - 1);
        if (c + 1 < chunks) copyIn(c + 1);
      };
      if (!this.pool || this.pool.failure) {
        // The pool stopped (a stalled worker) during this call: the rest runs here.
        copies();
        run(args(xo, oo, 0, cr));
        continue;
      }
      // worker t (1..threads - 1): rows [(t - 1) per, t per); share 0, this thread's, is empty
      const share = (t: number) => args(xo, oo, Math.min(cr, Math.max(0, t - 1) * per), Math.min(cr, t === 0 ? 0 : t * per));
      this.split(threads, op, share, copies);
    }
    copyOut(chunks - 1);
  }

  /** Row-wise softmax / log-softmax of x [rows, D] into out. */
  softmax(x: Float32Array, rows: number, D: number, log: boolean, out: Float32Array): void {
    this.streamRows(
      x,
      out,
      rows,
      D,
      OP.softmax,
      0,
      (xo, oo, r0, r1) => [xo, oo, r0, r1, D, log ? 1 : 0],
      (j) => this.ex.softmax_rows(j[0], j[1], j[2], j[3], j[4], j[5]),
    );
  }

  /** LayerNorm (rms false) or RMSNorm (rms true) over rows of x [rows, D]; w and b optional. */
  norm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, rows: number, D: number, eps: number, rms: boolean, out: Float32Array): void {
    const wOff = this.scratch;
    const bOff = wOff + 4 * D;
    const heap = this.heap(8 * D);
    if (w) heap.set(w.subarray(0, D), wOff / 4);
    if (b) heap.set(b.subarray(0, D), bOff / 4);
    this.streamRows(
      x,
      out,
      rows,
      D,
      OP.norm,
      8 * D,
      (xo, oo, r0, r1) => [xo, w ? wOff : 0, b ? bOff : 0, oo, r0, r1, D, f32bits(eps), rms ? 1 : 0],
      (j) => this.ex.norm_rows(j[0], j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8]),
    );
  }

  /**
   * out[outOff + c * rows + r] = src[off + r * ld + c] for r < rows, c < cols: `rows` source rows
   * of `cols` values, `ld` apart, copied out transposed (wasm/transpose.ts).
   */
  transposeCopy(src: Float32Array, off: number, ld: number, rows: number, cols: number, out: Float32Array, outOff: number): void {
    const n = rows * cols;
    const heap = this.heap(8 * n);
    const at = this.scratch / 4;
    if (ld === cols) heap.set(src.subarray(off, off + n), at);
    else for (let r = 0; r < rows; r++) heap.set(src.subarray(off + r * ld, off + r * ld + cols), at + r * cols);
    this.ex.transpose(4 * at, 4 * (at + n), rows, cols);
    out.set(heap.subarray(at + n, at + 2 * n), outOff);
  }

  /** out = op(x) elementwise (op from WASM_UNARY), streamed as rows of 1024. */
  unary(op: number, x: Float32Array, n: number, out: Float32Array): void {
    const D = 1024;
    const full = Math.floor(n / D);
    const run = (j: number[]) => this.ex.unary_range(j[0], j[1], j[2], j[3], j[4]);
    if (full > 0) this.streamRows(x, out, full, D, OP.unary, 0, (xo, oo, r0, r1) => [op, xo, oo, r0 * D, r1 * D], run);
    const tail = n - full * D;
    if (tail > 0) {
      const heap = this.heap(8 * tail);
      const at = this.scratch;
      heap.set(x.subarray(full * D, n), at / 4);
      run([op, at, at + 4 * tail, 0, tail]);
      out.set(heap.subarray(at / 4 + tail, at / 4 + 2 * tail), full * D);
    }
  }
}

/** A kernel call needed more WebAssembly memory than can be had; the caller falls back. */
export class WasmMemoryExhausted extends Error {
  override name = "WasmMemoryExhausted";
}

let warnedExhausted = false;

/**
 * Runs a WASM kernel call; false when it needed more WebAssembly memory than can be had, so the
 * caller runs its TypeScript kernel instead (slower, same results). Other errors propagate.
 */
export function wasmFits(run: () => void): boolean {
  try {
    run();
    return true;
  } catch (e) {
    if (!(e instanceof WasmMemoryExhausted)) throw e;
    if (!warnedExhausted) {
      warnedExhausted = true;
      console.warn(`[tessera] cpu: ${e.message}; this op and larger ones run the TypeScript kernels (slower, same results)`);
    }
    return false;
  }
}

let instance: WasmKernels | null | undefined;
let compiling: Promise<void> | null = null;
let wantedThreads: number | null = null;
let stallMs: number | undefined;
let starting: Promise<number> | null = null;
/** Why the worker pool did not start, if it did not (see cpuThreadsError). */
let poolError: string | null = null;

/** The reason the cpu worker threads failed to start, or null. */
export function cpuThreadsError(): string | null {
  return poolError;
}

export { canShareWasmMemory };
const canShare = canShareWasmMemory;
const defaultThreads = defaultWasmThreads;

/**
 * Compiles synchronously where allowed (Node); a browser main thread refuses synchronous
 * compiles of modules over 4 KB, so there it compiles in the background and the TypeScript
 * kernels serve meanwhile (loader.ts).
 */
function create(): WasmKernels | null | undefined {
  let done!: () => void;
  // the relaxed-SIMD build (fused multiply-add in the GEMM/GEMV products) where the runtime has it
  const variants = { plain: KERNELS_WASM_PLAIN, shared: KERNELS_WASM_SHARED, relaxed: { plain: KERNELS_WASM_RELAXED_PLAIN, shared: KERNELS_WASM_RELAXED_SHARED } };
  const c = compileWasm(variants, (r) => {
    instance = r ? new WasmKernels(r.module as WebAssembly.Module, createWasmMemory(r.shared) as WebAssembly.Memory, r.relaxed) : null;
    if (instance) void startThreads(instance);
    done();
  });
  if (c === undefined) compiling ??= new Promise<void>((resolve) => (done = resolve));
  return c ? new WasmKernels(c.module as WebAssembly.Module, createWasmMemory(c.shared) as WebAssembly.Memory, c.relaxed) : c;
}

/** The pool's thread count for a requested one: 1..16. */
const clampThreads = (n: number): number => Math.max(1, Math.min(n, 16));

/** Starts the worker pool in the background (once, or again after it stopped); kernels use it as soon as it is ready. */
function startThreads(k: WasmKernels): Promise<number> {
  if (k.pool?.failure) {
    k.pool = null; // a stalled pool was stopped: start a new one
    starting = null;
  }
  starting ??= (async () => {
    const n = clampThreads(wantedThreads ?? (await defaultThreads()));
    if (n < 2 || !canShare()) return 1;
    try {
      k.pool = await startPool(k.module, k.memory, n - 1, stallMs);
      poolError = null;
      return n;
    } catch (e) {
      poolError = (e as Error).message;
      return 1;
    }
  })();
  return starting;
}

/** The WASM kernels, or null where WebAssembly SIMD is unavailable, not yet compiled or turned off. */
export function wasmKernels(): WasmKernels | null {
  if (getKernelPreference() === "reference") return null;
  if (instance === undefined && !compiling) {
    instance = create();
    if (instance) void startThreads(instance);
  }
  return instance ?? null;
}

export interface CpuThreadOptions {
  /**
   * How long a kernel call waits for a worker thread beyond its own share before it gives up
   * (ms; default 10 s, or 50x the calling thread's share when longer): the call throws, the pool
   * stops and later calls run on one thread until initCpuThreads() starts a new pool.
   */
  stallTimeoutMs?: number;
}

/**
 * Sets the number of threads the cpu backend's WASM kernels use (default: all cores, at most 16)
 * and waits until they run; resolves to the count in effect (1 where threads are unavailable).
 * Call it again with another count to replace the pool (between ops), and after the pool
 * stopped (a stalled worker) to start a new one.
 */
export async function initCpuThreads(threads?: number, opts: CpuThreadOptions = {}): Promise<number> {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64))
    throw new TesseraError("initCpuThreads", `threads must be an integer in 1..64, got ${String(threads)}`);
  const ms = opts.stallTimeoutMs;
  if (ms !== undefined && !(typeof ms === "number" && Number.isFinite(ms) && ms > 0))
    throw new TesseraError("initCpuThreads", `stallTimeoutMs must be a positive number of milliseconds, got ${String(ms)}`);
  if (threads !== undefined) wantedThreads = threads;
  if (ms !== undefined) stallMs = ms;
  wasmKernels();
  if (compiling) await compiling;
  if (!instance) return 1;
  if (threads !== undefined && starting) {
    // Another count than the pool in effect: stop it (no kernel call is in flight between ops)
    // and start one of the new size.
    const current = await starting;
    if (current !== clampThreads(threads)) {
      instance.pool?.close();
      instance.pool = null;
      starting = null;
    }
  }
  return startThreads(instance);
}

/**
 * Turns the fast paths on or off; returns the previous setting.
 * @deprecated Use `setKernelPreference(on ? "fast" : "reference")`: since 0.2 this is an alias of
 * it, so `false` also turns off the packages' WASM kernels and registered fused kernels. Removed
 * in the next release.
 */
export function setCpuSimd(on: boolean): boolean {
  return setKernelPreference(on ? "fast" : "reference") === "fast";
}

/** Whether the WASM SIMD kernels are on and available here. */
export function cpuSimdAvailable(): boolean {
  return wasmKernels() !== null;
}

/**
 * Sets the byte budget of weights kept resident in WASM memory between products (default
 * 1 GiB; 0 turns it off and drops what is kept). Decoding reads every weight per token, so
 * keeping them resident saves one copy of the model per token. Since 0.2 this is the one
 * budget shared with the packages' WASM kernels: the same as `setWasmWeightBudget` from
 * `@tessera/tensor/wasm`.
 */
export function setCpuWeightCache(bytes: number): void {
  if (!(bytes >= 0)) throw new RangeError(`setCpuWeightCache: bytes must be >= 0, got ${bytes}`);
  setWasmWeightBudget(bytes);
}

/** Bytes of weights resident in the cpu backend's WASM memory now, and the (one, shared) budget. */
export function cpuWeightCacheStats(): { bytes: number; budget: number } {
  const k = instance ?? null;
  return { bytes: k ? k.resident.bytes : 0, budget: wasmWeightBudget().budget };
}

/**
 * The cpu selective scan on WebAssembly SIMD (wasm/scan.ts: the whole fused step, four
 * channels per f32x4 vector, vector exp/log). Same contract and results as kernel-cpu.ts, the
 * TypeScript reference, which runs where WebAssembly SIMD is missing, for grouped B/C whose
 * groups are not a multiple of four channels, and under the 'reference' kernel preference (`setKernelPreference` in @tessera/tensor).
 *
 * Arrays are copied into the module's memory in the caller's layout with the channel axis
 * padded to Dp = D rounded up to 4 (padded channels are zero and stay zero).
 */
import { getKernelPreference, setKernelPreference } from "@tessera/tensor";
import { checkThreadCount, compileWasm, growWasmMemory, instantiateWasm, kernelPool, type CompiledWasm, type KernelPool } from "@tessera/tensor/wasm";
import type { ProjLayout } from "./args";
import { CHUNK, type ScanArrays, type ScanGrads, type ScanShape } from "./kernel-cpu";
import { SCAN_WASM_PLAIN, SCAN_WASM_RELAXED_PLAIN, SCAN_WASM_RELAXED_SHARED, SCAN_WASM_SHARED } from "./wasm/binary";

interface Exports {
  scan_fwd(...args: number[]): void;
  scan_bwd(...args: number[]): void;
  state_update(...args: number[]): void;
}

const PAGE = 65536;
/** Memory below this holds the module's own data. */
const BASE = PAGE;

interface ScanKernels {
  ex: Exports;
  memory: WebAssembly.Memory;
  relaxed: boolean;
  /** Workers over `memory` (a shared memory: Node, cross-origin isolated pages); its pool null: this thread only. */
  threads: KernelPool;
}

let instance: ScanKernels | null | undefined;
let compiling = false;
let lastThreads = 0;

/** Threads the last forward scan on WebAssembly ran on. @internal */
export function scanLastThreads(): number {
  return lastThreads;
}

/** Forward scans of fewer state updates (B L D N) than this run on one thread. */
const THREAD_MIN_UPDATES = 1 << 18;
/** scan_fwd's argument count (wasm/scan.ts), then its pool job: [op, ...args]. */
const FWD_ARGS = 34;
const DISPATCH = `if (j[0] === 1) ex.scan_fwd(${Array.from({ length: FWD_ARGS }, (_, i) => `j[${i + 1}]`).join(", ")});`;

/**
 * Use (default) or bypass the fast paths; the TypeScript kernel stays the reference.
 * @deprecated Use `setKernelPreference(on ? "fast" : "reference")` from @tessera/tensor: since
 * 0.2 this is an alias of it (so it switches every package's fast paths). Removed in the next release.
 */
export function setScanWasm(on: boolean): void {
  setKernelPreference(on ? "fast" : "reference");
}

function instantiate(c: CompiledWasm | null): void {
  if (!c) {
    instance = null; // no WebAssembly SIMD here
    return;
  }
  const { exports, memory } = instantiateWasm<Exports>(c);
  const threads = kernelPool(c.module, memory, { dispatch: DISPATCH, slots: FWD_ARGS + 1 });
  instance = { ex: exports, memory: memory as WebAssembly.Memory, relaxed: c.relaxed, threads };
  void threads.start();
}

/**
 * Sets the number of threads the cpu selective scan's forward uses (default: all cores, at most
 * 16; 1: the calling thread only) and waits until they run; resolves to the count in effect (1
 * where WebAssembly threads or SIMD are unavailable). Threads split the channels; results do not
 * depend on the count. Without it the pool starts in the background at the first scan (and the
 * scans before it joins run on one thread): benchmarks await it first.
 */
export async function initScanThreads(threads?: number): Promise<number> {
  checkThreadCount("initScanThreads", threads);
  const k = kernels();
  return k ? k.threads.init(threads) : 1;
}

/** Which build of the scan module loaded: "relaxed" (fused multiply-adds), "simd128", or null (none yet / none here). @internal */
export function scanWasmBuild(): "relaxed" | "simd128" | null {
  const k = kernels();
  return k ? (k.relaxed ? "relaxed" : "simd128") : null;
}

/** The module, compiled on first use through @tessera/tensor/wasm (null: no WebAssembly SIMD here, or still compiling). */
function kernels(): ScanKernels | null {
  if (getKernelPreference() === "reference") return null;
  if (instance !== undefined) return instance;
  if (compiling) return null;
  // Browsers refuse synchronous compiles of large modules on the main thread: compileWasm then
  // compiles in the background and the TypeScript kernel serves until it is ready.
  const c = compileWasm(
    { plain: SCAN_WASM_PLAIN, shared: SCAN_WASM_SHARED, relaxed: { plain: SCAN_WASM_RELAXED_PLAIN, shared: SCAN_WASM_RELAXED_SHARED } }, // relaxed: fused multiply-adds
    instantiate,
  );
  if (c === undefined) {
    compiling = true;
    return null;
  }
  instantiate(c);
  return instance ?? null;
}

/** Whether the WebAssembly SIMD scan kernel is loaded and enabled here. */
export function scanWasmAvailable(): boolean {
  return kernels() !== null;
}

/** B or C for the kernel: "splat" (one value for four channels) or "lanes" ([N, Dp], transposed). */
interface ProjArgs {
  data: Float32Array;
  mode: 0 | 1;
  /** s0, s1, sn, st, channels per group */
  strides: [number, number, number, number, number];
}

function projArgs(X: Float32Array, l: ProjLayout, Dm: number, Dp: number, N: number): ProjArgs | null {
  if (l.kind === "time-invariant") {
    const t = new Float32Array(N * Dp);
    for (let d = 0; d < Dm; d++) for (let n = 0; n < N; n++) t[n * Dp + d] = X[d * N + n];
    return { data: t, mode: 1, strides: [0, 0, 0, 0, 1] };
  }
  const group = Dm / l.G;
  if (l.G > 1 && group % 4 !== 0) return null; // four channels of a vector would straddle groups
  const [s0, s1, sn, st] = l.strides;
  return { data: X, mode: 0, strides: [s0, s1, sn, st, l.G > 1 ? group : Dp] };
}

/** What the wasm forward hands its backward. */
export interface WasmSaved {
  checkpoints: Float32Array;
  bArgs: ProjArgs;
  cArgs: ProjArgs;
}

/** [B, D, inner] -> [B, Dp, inner] (zero rows for the padded channels). */
function padChannels(x: Float32Array, Bb: number, Dm: number, Dp: number, inner: number): Float32Array {
  if (Dm === Dp) return x;
  const out = new Float32Array(Bb * Dp * inner);
  for (let b = 0; b < Bb; b++) out.set(x.subarray(b * Dm * inner, (b + 1) * Dm * inner), b * Dp * inner);
  return out;
}

/** [B, Dp, inner] at `off` in the heap -> [B, D, inner] */
function unpadChannels(heap: Float32Array, off: number, Bb: number, Dm: number, Dp: number, inner: number): Float32Array {
  const out = new Float32Array(Bb * Dm * inner);
  for (let b = 0; b < Bb; b++) out.set(heap.subarray(off / 4 + b * Dp * inner, off / 4 + (b * Dp + Dm) * inner), b * Dm * inner);
  return out;
}

function padVector(x: Float32Array | null, Dp: number): Float32Array {
  const out = new Float32Array(Dp);
  if (x) out.set(x);
  return out;
}

function transposeA(A: Float32Array, Dm: number, Dp: number, N: number): Float32Array {
  const aT = new Float32Array(N * Dp);
  for (let d = 0; d < Dm; d++) for (let n = 0; n < N; n++) aT[n * Dp + d] = A[d * N + n];
  return aT;
}

/** Lays out float arrays one after another from BASE (16-byte aligned); copies inputs in, zeroes the rest. */
function place(k: { memory: WebAssembly.Memory }, sizes: number[], inputs: (Float32Array | null)[]): number[] {
  const offs: number[] = [];
  let at = BASE;
  for (const n of sizes) {
    offs.push(at);
    at += Math.ceil((n * 4) / 16) * 16;
  }
  growWasmMemory(k.memory, at);
  const heap = new Float32Array(k.memory.buffer);
  sizes.forEach((n, i) => {
    const a = inputs[i];
    if (a) heap.set(a, offs[i] / 4);
    else heap.fill(0, offs[i] / 4, offs[i] / 4 + n);
  });
  return offs;
}

/** The inputs every kernel call reads, padded: [u, delta, z, D, bias, A^T, B, C]. */
function commonInputs(s: ScanShape, a: ScanArrays, Dp: number, b: ProjArgs, c: ProjArgs): { sizes: number[]; data: (Float32Array | null)[] } {
  const { Bb, Dm, L, N } = s;
  const BDL = Bb * Dp * L;
  return {
    sizes: [BDL, BDL, a.z ? BDL : 0, Dp, Dp, N * Dp, b.data.length, c.data.length],
    data: [
      padChannels(a.u, Bb, Dm, Dp, L),
      padChannels(a.delta, Bb, Dm, Dp, L),
      a.z ? padChannels(a.z, Bb, Dm, Dp, L) : null,
      padVector(a.D, Dp),
      padVector(a.bias, Dp),
      transposeA(a.A, Dm, Dp, N),
      b.data,
      c.data,
    ],
  };
}

/** Float counts of the backward's arrays in place() order: inputs, checkpoints, dOut, dLast; outputs; scratch. */
function backwardSizes(s: ScanShape, Dp: number, inputSizes: number[], bArgs: ProjArgs, cArgs: ProjArgs, hasZ: boolean, hasDLast: boolean): number[] {
  const { Bb, L, N } = s;
  const BDL = Bb * Dp * L;
  const nChunks = Math.ceil(L / CHUNK);
  return [
    ...inputSizes,
    Bb * nChunks * N * Dp,
    BDL,
    hasDLast ? Bb * Dp * N : 0, // + checkpoints, dOut, dLast
    BDL,
    BDL,
    hasZ ? BDL : 0,
    N * Dp,
    bArgs.data.length,
    cArgs.data.length,
    Dp,
    Dp,
    Bb * Dp * N, // outputs
    4 * (CHUNK + 1) * N,
    4 * CHUNK * N,
    8 * CHUNK,
    4 * N,
    4 * N, // scratch
  ];
}

/** The most a shared memory (the pool's) can grow to: 2 GiB minus two pages (a plain one reaches 4 GiB). */
const MAX_SHARED_BYTES = 2 ** 31 - 2 * PAGE;

/** Bytes place() lays out for these float counts (16-byte aligned each, from BASE). */
const placedBytes = (sizes: number[]) => sizes.reduce((at, n) => at + Math.ceil((n * 4) / 16) * 16, BASE);

/** The forward pass, or null where the TypeScript kernel must run (see the file comment). */
export function scanForwardWasm(s: ScanShape, a: ScanArrays): { out: Float32Array; last: Float32Array; saved: WasmSaved } | null {
  const k = kernels();
  if (!k) return null;
  const { Bb, Dm, L, N } = s;
  const Dp = Math.ceil(Dm / 4) * 4;
  const bArgs = projArgs(a.B, s.bL, Dm, Dp, N);
  const cArgs = projArgs(a.C, s.cL, Dm, Dp, N);
  if (!bArgs || !cArgs) return null;
  const nChunks = Math.ceil(L / CHUNK);
  const pool = k.threads.pool && !k.threads.pool.failure ? k.threads.pool : null; // a stopped pool: one thread
  const threads = pool && Bb * L * Dp * N >= THREAD_MIN_UPDATES ? Math.min(pool.workers + 1, Dp / 4) : 1;
  const ins = commonInputs(s, a, Dp, bArgs, cArgs);
  const sizes = [...ins.sizes, a.h0 ? Bb * Dp * N : 0, Bb * Dp * L, Bb * Dp * N, Bb * nChunks * N * Dp, threads * 4 * N];
  // A shared memory stops at 2 GiB: a scan whose forward or backward needs more runs the
  // TypeScript kernels (both: their checkpoints differ).
  const need = Math.max(placedBytes(sizes), placedBytes(backwardSizes(s, Dp, ins.sizes, bArgs, cArgs, !!a.z, true)));
  if (typeof SharedArrayBuffer !== "undefined" && k.memory.buffer instanceof SharedArrayBuffer && need > MAX_SHARED_BYTES) return null;
  const h0 = a.h0 ? padChannels(a.h0, Bb, Dm, Dp, N) : null;
  const offs = place(k, sizes, [...ins.data, h0, null, null, null, null]);
  const [oU, oDelta, oZ, oD, oBias, oA, oB, oC, oH0, oY, oLast, oCk, oXs] = offs;
  // Thread t scans channels [t per, (t + 1) per) with its own scratch (N vectors of 16 bytes).
  const per = Math.ceil(Dp / 4 / threads) * 4;
  const args = (t: number): number[] => [
    Bb,
    L,
    Dp,
    N,
    CHUNK,
    s.softplus ? 1 : 0,
    a.z ? 1 : 0,
    oU,
    oDelta,
    oZ,
    oD,
    oBias,
    oA,
    oB,
    bArgs.mode,
    ...bArgs.strides,
    oC,
    cArgs.mode,
    ...cArgs.strides,
    h0 ? oH0 : 0,
    oY,
    oLast,
    oCk,
    oXs + t * 16 * N,
    Math.min(Dp, t * per),
    Math.min(Dp, (t + 1) * per),
  ];
  if (threads > 1 && pool) {
    for (let t = 1; t < threads; t++) pool.job(t - 1, 1, args(t));
    pool.run(() => k.ex.scan_fwd(...args(0)));
  } else k.ex.scan_fwd(...args(0));
  lastThreads = threads;
  const heap = new Float32Array(k.memory.buffer);
  return {
    out: unpadChannels(heap, oY, Bb, Dm, Dp, L),
    last: unpadChannels(heap, oLast, Bb, Dm, Dp, N),
    saved: { checkpoints: heap.slice(oCk / 4, oCk / 4 + Bb * nChunks * N * Dp), bArgs, cArgs },
  };
}

/** The backward pass matching scanForwardWasm (same contract as scanBackwardCpu). */
export function scanBackwardWasm(s: ScanShape, a: ScanArrays, saved: WasmSaved, dOut: Float32Array, dLast: Float32Array | null): ScanGrads {
  const k = kernels();
  if (!k) throw new Error("selectiveScan: the WebAssembly kernel went away between forward and backward");
  const { Bb, Dm, L, N } = s;
  const Dp = Math.ceil(Dm / 4) * 4;
  const { bArgs, cArgs } = saved;
  const nChunks = Math.ceil(L / CHUNK);
  const ins = commonInputs(s, a, Dp, bArgs, cArgs);
  const sizes = backwardSizes(s, Dp, ins.sizes, bArgs, cArgs, !!a.z, !!dLast);
  const data = [...ins.data, saved.checkpoints, padChannels(dOut, Bb, Dm, Dp, L), dLast ? padChannels(dLast, Bb, Dm, Dp, N) : null];
  const offs = place(k, sizes, [...data, ...new Array<null>(sizes.length - data.length).fill(null)]);
  const [oU, oDelta, oZ, oD, oBias, oA, oB, oC, oCk, oDout, oDlast, oDu, oDdelta, oDz, oDa, oDb, oDc, oDD, oDbias, oDh0, oS, oDec, oDts, oHx, oDA] = offs;
  k.ex.scan_bwd(
    Bb,
    L,
    Dp,
    N,
    CHUNK,
    s.softplus ? 1 : 0,
    a.z ? 1 : 0,
    oU,
    oDelta,
    oZ,
    oD,
    oBias,
    oA,
    oB,
    bArgs.mode,
    ...bArgs.strides,
    oC,
    cArgs.mode,
    ...cArgs.strides,
    oCk,
    oDout,
    dLast ? oDlast : 0,
    oDu,
    oDdelta,
    oDz,
    oDa,
    oDb,
    oDc,
    oDD,
    oDbias,
    oDh0,
    oS,
    oDec,
    oDts,
    oHx,
    oDA,
  );
  const heap = new Float32Array(k.memory.buffer);
  const unproj = (off: number, p: ProjArgs, length: number): Float32Array => {
    if (p.mode === 0) return heap.slice(off / 4, off / 4 + length);
    const out = new Float32Array(Dm * N);
    for (let d = 0; d < Dm; d++) for (let n = 0; n < N; n++) out[d * N + n] = heap[off / 4 + n * Dp + d];
    return out;
  };
  return {
    du: unpadChannels(heap, oDu, Bb, Dm, Dp, L),
    ddelta: unpadChannels(heap, oDdelta, Bb, Dm, Dp, L),
    dz: a.z ? unpadChannels(heap, oDz, Bb, Dm, Dp, L) : new Float32Array(0),
    dA: unproj(oDa, { data: a.A, mode: 1, strides: [0, 0, 0, 0, 1] }, Dm * N),
    dB: unproj(oDb, bArgs, a.B.length),
    dC: unproj(oDc, cArgs, a.C.length),
    dD: heap.slice(oDD / 4, oDD / 4 + Dm),
    dbias: heap.slice(oDbias / 4, oDbias / 4 + Dm),
    dh0: unpadChannels(heap, oDh0, Bb, Dm, Dp, N),
  };
}

/** One decoding step's sizes: batch, channels D, state N, groups G of B and C, softplus on dt. */
export interface StepShape {
  Bb: number;
  Dm: number;
  N: number;
  G: number;
  softplus: boolean;
  /** A holds log(-A) (A_log): the kernel uses -exp(A). */
  aLog: boolean;
}

/** One decoding step's inputs, row-major: state [B, D, N]; x, dt, z [B, D]; A [D, N]; B, C [B, G, N]; D, bias [D]. */
export interface StepArrays {
  state: Float32Array;
  x: Float32Array;
  dt: Float32Array;
  z: Float32Array | null;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array | null;
  bias: Float32Array | null;
}

/** [rows, n] row-major -> [rowsP, nP] with zeros in the padding (the same array when nothing is padded). */
function padRows(x: Float32Array, rows: number, n: number, rowsP: number, nP: number): Float32Array {
  if (rows === rowsP && n === nP) return x;
  const out = new Float32Array(rowsP * nP);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * n, (r + 1) * n), r * nP);
  return out;
}

/**
 * selectiveStateUpdate's step on WebAssembly SIMD (wasm/scan.ts state_update): y [B, D] and the
 * new state [B, D, N]; null where WebAssembly SIMD is missing (or the 'reference' preference).
 * D and N are padded to multiples of 4 with zeros where they are not (A = 0 and B = C = 0 there:
 * padding states stay 0 and add nothing). The arrays are copied in at once.
 */
export function stateUpdateWasm(s: StepShape, a: StepArrays): { y: Float32Array; state: Float32Array } | null {
  const k = kernels();
  if (!k) return null;
  const { Bb, Dm, N, G } = s;
  const [Dp, Np] = [Math.ceil(Dm / 4) * 4, Math.ceil(N / 4) * 4];
  const perBatch = (x: Float32Array, n: number, nP: number, rows: number, rowsP: number) => {
    if (rows === rowsP && n === nP) return x;
    const out = new Float32Array(Bb * rowsP * nP);
    for (let b = 0; b < Bb; b++) out.set(padRows(x.subarray(b * rows * n, (b + 1) * rows * n), rows, n, rowsP, nP), b * rowsP * nP);
    return out;
  };
  const vec = (x: Float32Array | null) => (x ? perBatch(x, Dm, Dp, 1, 1) : null); // [B, D] -> [B, Dp]
  const [BD, BGN] = [Bb * Dp, Bb * G * Np];
  const sizes = [BD * Np, BD, BD, a.z ? BD : 0, Dp * Np, BGN, BGN, a.D ? Dp : 0, a.bias ? Dp : 0, BD];
  const inputs = [
    perBatch(a.state, N, Np, Dm, Dp),
    vec(a.x),
    vec(a.dt),
    vec(a.z),
    padRows(a.A, Dm, N, Dp, Np),
    perBatch(a.B, N, Np, G, G),
    perBatch(a.C, N, Np, G, G),
    a.D ? padRows(a.D, 1, Dm, 1, Dp) : null,
    a.bias ? padRows(a.bias, 1, Dm, 1, Dp) : null,
    null,
  ];
  const [oState, oX, oDt, oZ, oA, oB, oC, oD, oBias, oY] = place(k, sizes, inputs);
  // the new state overwrites the old one in place (each state is read before it is written)
  k.ex.state_update(
    Bb,
    Dp,
    Np,
    G,
    Dm / G,
    s.softplus ? 1 : 0,
    s.aLog ? 1 : 0,
    a.z ? 1 : 0,
    oState,
    oX,
    oDt,
    a.z ? oZ : 0,
    oA,
    oB,
    oC,
    a.D ? oD : 0,
    a.bias ? oBias : 0,
    oY,
    oState,
  );
  const heap = new Float32Array(k.memory.buffer);
  if (Dp === Dm && Np === N) return { y: heap.slice(oY / 4, oY / 4 + BD), state: heap.slice(oState / 4, oState / 4 + BD * Np) };
  const y = new Float32Array(Bb * Dm);
  const state = new Float32Array(Bb * Dm * N);
  for (let b = 0; b < Bb; b++) {
    y.set(heap.subarray(oY / 4 + b * Dp, oY / 4 + b * Dp + Dm), b * Dm);
    for (let d = 0; d < Dm; d++) state.set(heap.subarray(oState / 4 + (b * Dp + d) * Np, oState / 4 + (b * Dp + d) * Np + N), (b * Dm + d) * N);
  }
  return { y, state };
}

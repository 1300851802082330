/**
 * Worker threads for the WASM kernels: every thread instantiates the shared-memory build of the
 * module over one shared WebAssembly.Memory; the caller splits the work (GEMM rows, norm rows,
 * element ranges), posts one job per worker in a control block in that memory, wakes them with
 * Atomics.notify, does its own share and waits for the others (Atomics.wait; a spin where the
 * main thread may not block, as in browsers). Shares are independent, so results are
 * bit-identical to one thread.
 *
 * Startup is asynchronous (workers load in the background): until the pool is ready, kernels
 * run on one thread. `initCpuThreads()` waits for it.
 */

/** Control block (Int32 slots at byte CTL, above the module's own data segments, below BASE): 0 generation, 1 done count, 2 ready count, then SLOTS per worker. */
export const CTL = 8192;
export const SLOTS = 10;

/** Job op codes (slot 0 of a worker's job; the rest are the kernel's arguments). */
export const OP = { none: 0, gemm: 1, softmax: 2, norm: 3, unary: 4, gemv: 5, gemvHalf: 6 } as const;

/** Tensor's job dispatch: `ex` is the module's exports, `j` the job (op code, then arguments). */
const TENSOR_DISPATCH = `
    switch (j[0]) {
      case ${OP.gemm}: if (j[5] > j[4]) { ex.pack_a(j[9], j[7], j[4], j[5], j[1]); ex.gemm_rows(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8]); } break;
      case ${OP.softmax}: ex.softmax_rows(j[1], j[2], j[3], j[4], j[5], j[6]); break;
      case ${OP.norm}: ex.norm_rows(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9]); break;
      case ${OP.unary}: ex.unary_range(j[1], j[2], j[3], j[4], j[5]); break;
      case ${OP.gemv}: if (j[7] > j[6]) { if (j[8]) ex.gemv_t(j[1], j[2], j[3], j[4], j[6], j[7]); else ex.gemv_n(j[1], j[2], j[3], j[4], j[5], j[6], j[7]); } break;
      case ${OP.gemvHalf}: if (j[7] > j[6]) { if (j[8]) ex.gemv_t_h(j[1], j[2], j[3], j[4], j[6], j[7], j[9]); else ex.gemv_n_h(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[9]); } break;
    }`;

/** The worker program (plain JS, run by Node's eval worker or a Blob URL worker in browsers). */
function workerSource(dispatch: string, slots: number): string {
  return `
function start(d) {
  const ex = new WebAssembly.Instance(d.module, { env: { memory: d.memory, abort() { throw new Error("wasm abort"); } } }).exports;
  const ctl = new Int32Array(d.memory.buffer, ${CTL}, 4 + 64 * ${slots});
  Atomics.add(ctl, 2, 1);
  Atomics.notify(ctl, 2);
  let gen = Atomics.load(ctl, 0);
  for (;;) {
    Atomics.wait(ctl, 0, gen);
    gen = Atomics.load(ctl, 0);
    if (gen < 0) return;
    const b = 4 + d.id * ${slots};
    const j = ctl.slice(b, b + ${slots});
    ${dispatch}
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  }
}
if (typeof require === "function" && typeof self === "undefined") {
  const { workerData } = require("node:worker_threads");
  start(workerData);
} else {
  self.onmessage = (e) => start(e.data);
}
`;
}

export interface Pool {
  readonly workers: number;
  /** Posts worker `id`'s job: an op code and up to SLOTS - 1 int32 arguments. */
  job(id: number, op: number, args: readonly number[]): void;
  /** Starts the posted jobs, runs `own` on this thread, waits for the workers. */
  run(own: () => void): void;
}

interface WorkerLike {
  unref?(): void;
  terminate(): unknown;
}

/** Starts `workers` threads over `memory` running tensor's kernel module; resolves when all are ready. */
export function startPool(module: WebAssembly.Module, memory: WebAssembly.Memory, workers: number): Promise<Pool> {
  return startWasmPool(module, memory, workers, { dispatch: TENSOR_DISPATCH, slots: SLOTS });
}

export interface WasmPoolOptions {
  /**
   * JavaScript run by a worker for each job: `ex` is the module's exports and `j` an Int32Array
   * (op code, then up to slots - 1 int32 arguments), e.g. "if (j[0] === 1) ex.kernel(j[1], j[2]);".
   */
  dispatch: string;
  /** Int32 slots per job (op code included, at most 64). */
  slots: number;
}

/**
 * A compiled `WebAssembly.Module`, and a shared `WebAssembly.Memory`, as the public declarations
 * describe them: structurally, so they compile without the DOM lib (TypeScript puts the
 * WebAssembly namespace there, and @types/node 20 does not declare it).
 */
export type WasmModuleLike = object;
export interface WasmMemoryLike {
  readonly buffer: ArrayBufferLike;
  grow(delta: number): number;
}

/**
 * A worker pool for any WebAssembly module built with shared memory (AssemblyScript:
 * --sharedMemory --enable threads): every worker instantiates `module` over `memory`; jobs are
 * posted in a control block at byte 8192 of that memory (keep it free: data segments below, the
 * kernels' buffers from 65536 up). Workers never keep a Node process alive.
 */
export async function startWasmPool(module: WasmModuleLike, memory: WasmMemoryLike, workers: number, opts: WasmPoolOptions): Promise<Pool> {
  const { slots } = opts;
  if (!(Number.isInteger(slots) && slots >= 2 && slots <= 64)) throw new RangeError(`startWasmPool: slots must be 2..64, got ${slots}`);
  const WORKER_SOURCE = workerSource(opts.dispatch, slots);
  const handles: WorkerLike[] = [];
  let failure: string | null = null;
  const isNode = typeof process !== "undefined" && !!process.versions?.node;
  if (isNode) {
    const spec = "node:worker_threads";
    const { Worker } = (await import(/* @vite-ignore */ spec)) as typeof import("node:worker_threads");
    for (let id = 0; id < workers; id++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, id } });
      w.on("error", (e) => (failure ??= String(e?.message ?? e)));
      w.unref(); // never keeps the process alive
      handles.push(w);
    }
  } else {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let id = 0; id < workers; id++) {
      const w = new Worker(url);
      w.onerror = (e) => (failure ??= String((e as ErrorEvent).message ?? e));
      w.postMessage({ module, memory, id });
      handles.push(w);
    }
  }
  const ctl = () => new Int32Array(memory.buffer, CTL, 4 + 64 * slots);
  const deadline = Date.now() + 20_000;
  while (Atomics.load(ctl(), 2) < workers) {
    if (failure || Date.now() > deadline) {
      for (const h of handles) h.terminate();
      throw new Error(`cpu threads: workers did not start (${failure ?? "timed out"})`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  let canBlock = true;
  return {
    workers,
    job(id, op, args) {
      if (args.length >= slots) throw new RangeError(`wasm pool: ${args.length} arguments do not fit ${slots - 1} slots`);
      ctl().set([op, ...args], 4 + id * slots);
    },
    run(own) {
      const c = ctl();
      Atomics.store(c, 1, 0);
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      own();
      for (;;) {
        const done = Atomics.load(c, 1);
        if (done >= workers) break;
        if (canBlock) {
          try {
            Atomics.wait(c, 1, done, 50);
          } catch {
            canBlock = false; // a browser main thread may not block: spin instead
          }
        }
      }
    },
  };
}

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
 *
 * Failures never hang the caller: a worker whose job throws reports it (the call throws a clear
 * error; the pool stays usable); a worker that exited (killed, crashed) is seen at the next call,
 * its share runs on the calling thread and a replacement starts in the background; a worker that
 * does not finish its share within the stall limit stops the pool (the call throws; callers fall
 * back to one thread).
 */

/**
 * Control block: Int32 slots at byte CTL, above the module's own data segments and below the
 * kernels' buffers (byte 65536 up): 0 generation (negative = shut down), 2 ready count, then
 * `slots` job slots per worker (64 workers at most), then STATE_INTS per worker: started flag,
 * generation of the last finished job, generation of the last failed job, generation of the last
 * claimed job, count of jobs (op codes other than 0) the worker ran itself. (apps/browser-test's
 * page reads this block to prove the workers ran: keep its SLOTS and STATE_INTS in step.)
 *
 * Jobs are claimed (compare-and-swap on the claimed generation) by the worker or, once the caller
 * has finished its own share, by the caller: a worker that the OS has not scheduled yet (a busy
 * machine: softmax of [8, 1024, 1024] on 2 threads took 90-100 ms while other processes ran,
 * against 11 ms on one thread) no longer holds the call up; its share runs on the caller.
 */
export const CTL = 8192;
export const SLOTS = 11;
const MAX_WORKERS = 64;
/**
 * Atomics.load polls before a thread sleeps on a wait (~0.5-1 ms in V8). Waking a sleeping thread
 * takes 0.1-0.3 ms on a VM: a 768 x 3072 GEMV on 2 threads took 341 us with workers that sleep at
 * once and 198 us with this spin (1 thread: 362 us); a GPT-2 decode step 37.5 -> 34 ms.
 */
const SPIN = 50000;
/**
 * Which pool dispatched last, process-wide (slot 0; pools number themselves from 1). Every pool's
 * workers (tensor's kernels, the flash attention's, quantize's, ...) stop spinning and sleep as
 * soon as another pool dispatches: on 2 cores a spinning worker of the attention's pool took the
 * core from the tensor pool's worker during the GEMV right after it (768 x 768 on 2 threads:
 * 300 us with both spinning, 180 on one thread).
 */
let spinOwner: Int32Array | null = null;
let poolCount = 0;
function lastDispatcher(): Int32Array {
  spinOwner ??= new Int32Array(new SharedArrayBuffer(4));
  return spinOwner;
}

/**
 * The process-wide int (in shared memory) that says which thread pool dispatched last: the
 * cpu worker pools spin between jobs only while it holds their own id. A pool outside this
 * package (@tessera/native's threads) writes a negative id of its own into element 0 when it
 * dispatches, so these workers stop spinning and leave it the cores, and reads it to do the same.
 */
export function cpuSpinFlag(): Int32Array {
  return lastDispatcher();
}
export const STATE_INTS = 5;
/** Int32 index (in the control block) of worker `id`'s state ints. @internal */
export const stateAt = (slots: number, id: number) => 4 + MAX_WORKERS * slots + id * STATE_INTS;
const ctlInts = (slots: number) => 4 + MAX_WORKERS * slots + MAX_WORKERS * STATE_INTS;

/** Job op codes (slot 0 of a worker's job; the rest are the kernel's arguments). */
export const OP = { none: 0, gemm: 1, softmax: 2, norm: 3, unary: 4, gemv: 5, gemvHalf: 6, gemmCols: 21, gemvClaimed: 22 } as const;

/** Tensor's job dispatch: `ex` is the module's exports, `j` the job (op code, then arguments). */
const TENSOR_DISPATCH = `
    switch (j[0]) {
      case ${OP.gemm}: if (j[5] > j[4]) { ex.pack_a(j[9], j[7], j[4], j[5], j[1]); ex.gemm_rows_bias(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[10]); } break;
      case ${OP.softmax}: ex.softmax_rows(j[1], j[2], j[3], j[4], j[5], j[6]); break;
      case ${OP.norm}: ex.norm_rows(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9]); break;
      case ${OP.unary}: ex.unary_range(j[1], j[2], j[3], j[4], j[5]); break;
      case ${OP.gemv}: if (j[7] > j[6]) { if (j[8]) ex.gemv_t(j[1], j[2], j[3], j[4], j[6], j[7]); else ex.gemv_n(j[1], j[2], j[3], j[4], j[5], j[6], j[7]); } break;
      case ${OP.gemmCols}: ex.gemm_cols_bias(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8], j[9], j[10]); break;
      case ${OP.gemvClaimed}: ex.gemv_packed_claimed(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[8]); break;
      case ${OP.gemvHalf}: if (j[7] > j[6]) { if (j[8]) ex.gemv_t_h(j[1], j[2], j[3], j[4], j[6], j[7], j[9]); else ex.gemv_n_h(j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[9]); } break;
    }`;

/** The worker program (plain JS, run by Node's eval worker or a Blob URL worker in browsers). */
function workerSource(dispatch: string, slots: number): string {
  return `
function start(d) {
  const memory = d.memory;
  const ex = new WebAssembly.Instance(d.module, { env: { memory, abort() { throw new Error("wasm abort"); } } }).exports;
  const ctl = new Int32Array(memory.buffer, ${CTL}, ${ctlInts(slots)});
  const last = d.last;
  const me = ${stateAt(slots, 0)} + d.id * ${STATE_INTS};
  let gen = Atomics.load(ctl, 0);
  Atomics.store(ctl, me, 1);
  Atomics.add(ctl, 2, 1);
  Atomics.notify(ctl, 2);
  for (;;) {
    // Spin before sleeping: the next job usually follows within a millisecond (a decode step
    // posts ~50) and waking a sleeping thread costs 0.1-0.3 ms (SPIN); not once another pool
    // has dispatched (its workers need the cores).
    for (let i = 0; i < ${SPIN} && Atomics.load(ctl, 0) === gen && Atomics.load(last, 0) === d.pool; i++);
    Atomics.wait(ctl, 0, gen);
    gen = Atomics.load(ctl, 0);
    if (gen < 0) return;
    // Claim the job, forward only (the caller may have taken it, and later ones, while this
    // thread was paused: then it is done, and so are they; "gen - claimed > 0" survives wraparound).
    const claimed = Atomics.load(ctl, me + 3);
    if (((gen - claimed) | 0) > 0 && Atomics.compareExchange(ctl, me + 3, claimed, gen) === claimed) {
      const b = 4 + d.id * ${slots};
      const j = ctl.slice(b, b + ${slots});
      if (j[0] !== 0) {
        try {
          ${dispatch}
        } catch (e) {
          Atomics.store(ctl, me + 2, gen);
        }
        Atomics.add(ctl, me + 4, 1);
      }
    }
    Atomics.store(ctl, me + 1, gen);
    Atomics.notify(ctl, me + 1);
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
  /** Why the pool stopped (a worker stalled), or null while it runs; callers then use one thread. */
  readonly failure: string | null;
  /** Posts worker `id`'s job: an op code (0 is reserved: no job) and up to slots - 1 int32 arguments. */
  job(id: number, op: number, args: readonly number[]): void;
  /** Starts the posted jobs, runs `own` on this thread, waits for the workers (never unbounded). */
  run(own: () => void): void;
  /** Stops every worker. */
  close(): void;
  /** Terminates one worker as if it had crashed (fault-injection tests). @internal */
  terminateWorker(id: number): Promise<void>;
  /** Workers running now (not exited, started). @internal */
  liveWorkers(): number;
}

interface WorkerLike {
  terminate(): unknown;
}

/** Starts `workers` threads over `memory` running tensor's kernel module; resolves when all are ready. */
export function startPool(module: WebAssembly.Module, memory: WebAssembly.Memory, workers: number, stallMs?: number): Promise<Pool> {
  return startWasmPool(module, memory, workers, { dispatch: TENSOR_DISPATCH, slots: SLOTS, stallMs });
}

export interface WasmPoolOptions {
  /**
   * JavaScript run for each job: `ex` is the module's exports, `memory` the shared memory and `j`
   * an Int32Array (op code, then up to slots - 1 int32 arguments), e.g.
   * "if (j[0] === 1) ex.kernel(j[1], j[2]);". Op code 0 means no job and must do nothing. The same
   * code runs on the calling thread for a worker that has exited.
   */
  dispatch: string;
  /** Int32 slots per job (op code included, at most 64). */
  slots: number;
  /**
   * How long the caller waits for a worker beyond its own share before declaring the pool stalled
   * (ms; default 10 s, or 50x the caller's own share time when that is longer).
   */
  stallMs?: number;
}

/** Why a pool cannot be used, as an Error naming the cause. */
const poolError = (message: string) => new Error(`cpu threads: ${message}`);

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
 * posted in a control block at byte 8192 of that memory (keep it free up to byte 32768: data
 * segments below, the kernels' buffers from 65536 up). Workers never keep a Node process alive.
 */
export async function startWasmPool(module: WasmModuleLike, memory: WasmMemoryLike, workers: number, opts: WasmPoolOptions): Promise<Pool> {
  const { slots } = opts;
  if (!(Number.isInteger(slots) && slots >= 2 && slots <= 64)) throw new RangeError(`startWasmPool: slots must be 2..64, got ${slots}`);
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= MAX_WORKERS))
    throw new RangeError(`startWasmPool: workers must be an integer in 1..${MAX_WORKERS}, got ${workers}`);
  const stallMs = opts.stallMs ?? 10_000;
  if (!(Number.isFinite(stallMs) && stallMs > 0)) throw new RangeError(`startWasmPool: stallMs must be a positive number of milliseconds, got ${stallMs}`);
  const source = workerSource(opts.dispatch, slots);
  const last = lastDispatcher();
  const pool = ++poolCount;
  const ctl = () => new Int32Array(memory.buffer, CTL, ctlInts(slots));
  ctl().fill(0); // a pool stopped earlier over this memory left its counters and flags here
  const handles: (WorkerLike | null)[] = new Array(workers).fill(null);
  const exited: boolean[] = new Array(workers).fill(false);
  const restarts: number[] = new Array(workers).fill(0);
  let startupFailure: string | null = null;
  let failure: string | null = null;
  let closing = false;
  const isNode = typeof process !== "undefined" && !!process.versions?.node;
  const spec = "node:worker_threads";
  const NodeWorker = isNode ? ((await import(/* @vite-ignore */ spec)) as typeof import("node:worker_threads")).Worker : null;
  const blobUrl = isNode ? "" : URL.createObjectURL(new Blob([source], { type: "text/javascript" }));

  /** A worker that exited is replaced (three times per slot at most); meanwhile the caller runs its share. */
  const onExit = (id: number, w: WorkerLike, why: string) => {
    if (handles[id] !== w) return;
    startupFailure ??= why;
    exited[id] = true;
    Atomics.store(ctl(), stateAt(slots, id), 0);
    if (!closing && !failure && restarts[id] < 3) {
      restarts[id]++;
      spawn(id);
    }
  };
  const spawn = (id: number) => {
    exited[id] = false;
    if (NodeWorker) {
      const w = new NodeWorker(source, { eval: true, workerData: { module, memory, id, last, pool } });
      w.on("error", (e: Error) => onExit(id, w, String(e?.message ?? e)));
      w.on("exit", (code: number) => onExit(id, w, `worker ${id} exited with code ${code}`));
      w.unref(); // never keeps the process alive
      handles[id] = w;
    } else {
      const w = new Worker(blobUrl);
      w.onerror = (e) => onExit(id, w, String((e as ErrorEvent).message ?? e));
      w.postMessage({ module, memory, id, last, pool });
      handles[id] = w;
    }
  };
  for (let id = 0; id < workers; id++) spawn(id);
  const deadline = Date.now() + 20_000;
  while (Atomics.load(ctl(), 2) < workers) {
    if (startupFailure || Date.now() > deadline) {
      closing = true;
      for (const h of handles) h?.terminate();
      throw poolError(`workers did not start (${startupFailure ?? "timed out"})`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }

  let canBlock = true;
  type Dispatch = (ex: WebAssembly.Exports, memory: WebAssembly.Memory, j: Int32Array) => void;
  let mainDispatch: Dispatch | null = null;
  let mainExports: WebAssembly.Exports | null = null;
  /** Runs a worker's job here (its worker exited): the same dispatch code over a local instance. */
  const runHere = (job: Int32Array) => {
    mainExports ??= new WebAssembly.Instance(module as WebAssembly.Module, {
      env: {
        memory: memory as WebAssembly.Memory,
        abort: () => {
          throw new Error("wasm abort");
        },
      },
    }).exports;
    mainDispatch ??= new Function("ex", "memory", "j", opts.dispatch) as Dispatch;
    mainDispatch!(mainExports, memory as WebAssembly.Memory, job);
  };
  const posted: boolean[] = new Array(workers).fill(false);

  const stop = (why: string) => {
    failure = why;
    closing = true;
    const c = ctl();
    Atomics.store(c, 0, -1);
    Atomics.notify(c, 0);
    for (const h of handles) h?.terminate();
  };

  return {
    workers,
    get failure() {
      return failure;
    },
    job(id, op, args) {
      if (!(Number.isInteger(id) && id >= 0 && id < workers)) throw new RangeError(`wasm pool: worker id ${id} is not in 0..${workers - 1}`);
      if (args.length >= slots) throw new RangeError(`wasm pool: ${args.length} arguments do not fit ${slots - 1} slots`);
      ctl().set([op, ...args], 4 + id * slots);
      posted[id] = true;
    },
    run(own) {
      if (failure) throw poolError(`the worker pool was stopped (${failure})`);
      const c = ctl();
      // Workers that exited (or whose replacement has not started) get no job: their share runs here.
      const here: Int32Array[] = [];
      const waitFor: number[] = [];
      const next = (Atomics.load(c, 0) + 1) | 0; // this run's generation (only this thread advances it)
      for (let id = 0; id < workers; id++) {
        const slot = 4 + id * slots;
        const live = !exited[id] && Atomics.load(c, stateAt(slots, id)) === 1;
        if (posted[id] && !live) here.push(c.slice(slot, slot + slots));
        if (!posted[id] || !live) Atomics.store(c, slot, 0); // op 0: nothing to do
        // A worker this call does not wait for (starting up) must not read its slot of this run
        // while the next call rewrites it: its job is claimed here in advance.
        if (live) waitFor.push(id);
        else Atomics.store(c, stateAt(slots, id) + 3, next);
        posted[id] = false;
      }
      Atomics.store(last, 0, pool); // other pools' workers stop spinning
      const gen = Atomics.add(c, 0, 1) + 1;
      Atomics.notify(c, 0);
      const t0 = Date.now();
      let ownError: unknown = null;
      try {
        own();
        for (const job of here) runHere(job);
      } catch (e) {
        ownError = e;
      }
      const limit = Date.now() + Math.max(stallMs, 50 * (Date.now() - t0));
      const failed: number[] = [];
      for (const id of waitFor) {
        // A job its worker has not claimed yet runs here (the worker, when it wakes, skips it).
        const claimAt = stateAt(slots, id) + 3;
        const claimed = Atomics.load(c, claimAt);
        if (!ownError && ((gen - claimed) | 0) > 0 && Atomics.compareExchange(c, claimAt, claimed, gen) === claimed) {
          const slot = 4 + id * slots;
          try {
            if (Atomics.load(c, slot) !== 0) runHere(c.slice(slot, slot + slots)); // op 0: no job
          } catch {
            failed.push(id); // reported as the worker's own failure would be
          }
          continue;
        }
        const at = stateAt(slots, id) + 1;
        for (let i = 0; i < SPIN && Atomics.load(c, at) !== gen; i++); // as the workers: spin, then sleep
        for (;;) {
          const seen = Atomics.load(c, at);
          if (seen === gen) break;
          if (Date.now() > limit) {
            const late = waitFor.filter((w) => Atomics.load(c, stateAt(slots, w) + 1) !== gen);
            stop(`worker(s) ${late.join(", ")} did not finish their share within ${Math.round(limit - t0)} ms (exited or stuck)`);
            throw poolError(`${failure}; the pool is stopped and the kernels run on one thread from now on (initCpuThreads() starts a new pool)`);
          }
          if (canBlock) {
            try {
              Atomics.wait(c, at, seen, 20);
            } catch {
              canBlock = false; // a browser main thread may not block: spin instead
            }
          }
        }
        if (Atomics.load(c, stateAt(slots, id) + 2) === gen) failed.push(id);
      }
      if (ownError) throw ownError;
      if (failed.length) throw poolError(`the job of worker(s) ${failed.join(", ")} threw; the results of this call are incomplete`);
    },
    close() {
      stop("closed");
    },
    async terminateWorker(id) {
      const h = handles[id];
      if (h) await h.terminate();
    },
    liveWorkers() {
      const c = ctl();
      let n = 0;
      for (let id = 0; id < workers; id++) if (!exited[id] && Atomics.load(c, stateAt(slots, id)) === 1) n++;
      return n;
    },
  };
}

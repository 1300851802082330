/**
 * Worker threads for the WASM GEMM: every thread instantiates the shared-memory build of the
 * module over one shared WebAssembly.Memory; the caller splits C's rows, posts jobs in a control
 * block in that memory, wakes the workers with Atomics.notify, computes its own rows and waits
 * for the others (Atomics.wait; a spin where the main thread may not block, as in browsers).
 * Rows are independent, so the result is bit-identical to one thread.
 *
 * Startup is asynchronous (workers load in the background): until the pool is ready, GEMMs run
 * on one thread. `initCpuThreads()` waits for it.
 */

/** Control block layout (Int32 slots at byte CTL): 0 generation, 1 done count, 2 ready count, then 10 slots per worker. */
export const CTL = 1024;
const SLOTS = 10;

/** The worker program (plain JS, run by Node's eval worker or a Blob URL worker in browsers). */
const WORKER_SOURCE = `
function start(d) {
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory, abort() { throw new Error("wasm abort"); } } });
  const ex = inst.exports;
  const ctl = new Int32Array(d.memory.buffer, ${CTL}, 256);
  Atomics.add(ctl, 2, 1);
  Atomics.notify(ctl, 2);
  let gen = Atomics.load(ctl, 0);
  for (;;) {
    Atomics.wait(ctl, 0, gen);
    gen = Atomics.load(ctl, 0);
    if (gen < 0) return;
    const b = 4 + d.id * ${SLOTS};
    const ap = ctl[b], bp = ctl[b + 1], c = ctl[b + 2], m0 = ctl[b + 3], m1 = ctl[b + 4], N = ctl[b + 5], K = ctl[b + 6], s = ctl[b + 7], a = ctl[b + 8];
    if (m1 > m0) { ex.pack_a(a, K, m0, m1, ap); ex.gemm_rows(ap, bp, c, m0, m1, N, K, s); }
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

export interface Pool {
  readonly workers: number;
  memory: WebAssembly.Memory;
  /** Runs rows [m0, m1) of the GEMM on worker `id` (set up with `job`), all at once with `run`. */
  job(id: number, args: { ap: number; bp: number; c: number; m0: number; m1: number; N: number; K: number; scratch: number; a: number }): void;
  /** Starts the posted jobs, runs `own` on this thread, waits for the workers. */
  run(own: () => void): void;
}

interface WorkerLike {
  unref?(): void;
  terminate(): unknown;
}

/** Starts `workers` threads over `memory` running `module`; resolves when all are ready. */
export async function startPool(module: WebAssembly.Module, memory: WebAssembly.Memory, workers: number): Promise<Pool> {
  const handles: WorkerLike[] = [];
  const isNode = typeof process !== "undefined" && !!process.versions?.node;
  if (isNode) {
    const spec = "node:worker_threads";
    const { Worker } = (await import(/* @vite-ignore */ spec)) as typeof import("node:worker_threads");
    for (let id = 0; id < workers; id++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, id } });
      w.unref();
      handles.push(w);
    }
  } else {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let id = 0; id < workers; id++) {
      const w = new Worker(url);
      w.postMessage({ module, memory, id });
      handles.push(w);
    }
  }
  const ctl = () => new Int32Array(memory.buffer, CTL, 256);
  // Wait (asynchronously) until every worker has instantiated the module.
  const deadline = Date.now() + 20_000;
  while (Atomics.load(ctl(), 2) < workers) {
    if (Date.now() > deadline) {
      for (const h of handles) h.terminate();
      throw new Error("cpu threads: workers did not start");
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  let canBlock = true;
  return {
    workers,
    memory,
    job(id, j) {
      const c = ctl();
      c.set([j.ap, j.bp, j.c, j.m0, j.m1, j.N, j.K, j.scratch, j.a], 4 + id * SLOTS);
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

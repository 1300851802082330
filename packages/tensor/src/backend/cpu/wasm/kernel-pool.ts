/**
 * A package's worker pool over its kernel module's memory, with the lifecycle the packages'
 * kernels share (@tessera/attention's flash attention, @tessera/ssm's scan): started in the
 * background at first use (a pool started there joins when the event loop turns), started again
 * after it stopped, and resized by the package's `init...Threads(n)`, which waits for it.
 */
import { fail } from "../../../core/errors";
import { canShareWasmMemory } from "./features";
import { defaultWasmThreads } from "./loader";
import { startWasmPool, type Pool, type WasmMemoryLike, type WasmModuleLike, type WasmPoolOptions } from "./threads";

export interface KernelPool {
  /** The running pool, or null (not started yet, one thread, or stopped after a failure). */
  readonly pool: Pool | null;
  /** Starts the pool in the background (once, or again after it stopped); resolves to the thread count in effect. */
  start(): Promise<number>;
  /** Sets the thread count (undefined: keep the last one asked for, else all cores, at most 16) and waits until the workers run. */
  init(threads?: number): Promise<number>;
}

/** Throws, naming `op`, unless `threads` is undefined or an integer in 1..64. */
export function checkThreadCount(op: string, threads: number | undefined): void {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) fail(op, `threads must be an integer in 1..64, got ${String(threads)}`);
}

/** The pool of `module` over `memory` (workers dispatching with `opts`), not started yet. */
export function kernelPool(module: WasmModuleLike, memory: WasmMemoryLike, opts: WasmPoolOptions): KernelPool {
  let pool: Pool | null = null;
  let wanted: number | null = null;
  let starting: Promise<number> | null = null;
  const start = (): Promise<number> => {
    if (pool?.failure) {
      pool = null;
      starting = null;
    }
    starting ??= (async () => {
      const n = Math.max(1, Math.min(wanted ?? (await defaultWasmThreads()), 16));
      if (n < 2 || !canShareWasmMemory()) return 1;
      try {
        pool = await startWasmPool(module, memory, n - 1, opts);
        return n;
      } catch {
        return 1;
      }
    })();
    return starting;
  };
  return {
    get pool() {
      return pool;
    },
    start,
    async init(threads) {
      if (threads !== undefined && threads !== wanted) {
        wanted = threads;
        await starting;
        pool?.close();
        pool = null;
        starting = null;
      }
      return start();
    },
  };
}

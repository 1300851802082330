/**
 * The WASM worker pool never hangs and never answers wrong: a job that throws is reported, a
 * worker that exited has its share run on the calling thread and is replaced, a worker that does
 * not finish within the stall limit stops the pool with a clear error; the cpu backend then runs
 * on one thread with the same results, and initCpuThreads() starts a new pool.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { KERNELS_WASM_SHARED } from "../src/backend/cpu/wasm/binary";
import { initCpuThreads, wasmKernels } from "../src/backend/cpu/wasm/runtime";
import { CTL, startWasmPool, stateAt, type Pool } from "../src/backend/cpu/wasm/threads";

const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const module = new WebAssembly.Module(decode(KERNELS_WASM_SHARED));
// Test jobs: 1 writes j[2] at int32 index j[1]; 2 throws; 3 sets index j[1] + 1 to 1 (started),
// then blocks for j[2] ms.
const DISPATCH = `
  if (j[0] === 1) new Int32Array(memory.buffer)[j[1]] = j[2];
  if (j[0] === 2) throw new Error("boom");
  if (j[0] === 3) { const m = new Int32Array(memory.buffer); Atomics.store(m, j[1] + 1, 1); Atomics.notify(m, j[1] + 1); Atomics.wait(m, j[1], 0, j[2]); }`;
const CELL = 20_000; // int32 index well above the control block (byte 80000)

const pools: Pool[] = [];
async function pool(workers: number, stallMs?: number): Promise<{ p: Pool; cells: Int32Array }> {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 32768, shared: true });
  const p = await startWasmPool(module, memory, workers, { dispatch: DISPATCH, slots: 4, stallMs });
  pools.push(p);
  return { p, cells: new Int32Array(memory.buffer) };
}
afterAll(() => {
  for (const p of pools) p.close();
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("startWasmPool", () => {
  it("runs posted jobs only: a worker with no job this round does not repeat its last one", async () => {
    const { p, cells } = await pool(2);
    p.job(0, 1, [CELL, 7]);
    p.job(1, 1, [CELL + 1, 8]);
    p.run(() => undefined);
    expect([cells[CELL], cells[CELL + 1]]).toEqual([7, 8]);
    cells[CELL + 1] = 0;
    p.job(0, 1, [CELL, 9]);
    p.run(() => undefined);
    expect([cells[CELL], cells[CELL + 1]]).toEqual([9, 0]);
  });

  it("a job that throws makes run() throw naming the worker; the pool stays usable", async () => {
    const { p, cells } = await pool(2);
    p.job(0, 1, [CELL, 1]);
    p.job(1, 2, []);
    expect(() => p.run(() => undefined)).toThrow("cpu threads: the job of worker(s) 1 threw; the results of this call are incomplete");
    expect(p.failure).toBeNull();
    p.job(1, 1, [CELL + 1, 5]);
    p.run(() => undefined);
    expect(cells[CELL + 1]).toBe(5);
  });

  it("a worker that exited: its share runs on the calling thread, then a replacement takes over", async () => {
    const { p, cells } = await pool(2);
    await p.terminateWorker(0);
    await new Promise((r) => setTimeout(r, 0));
    p.job(0, 1, [CELL, 11]);
    p.job(1, 1, [CELL + 1, 12]);
    p.run(() => undefined);
    expect([cells[CELL], cells[CELL + 1]]).toEqual([11, 12]);
    await until(() => p.liveWorkers() === 2, 10_000);
    p.job(0, 1, [CELL, 13]);
    p.run(() => undefined);
    expect(cells[CELL]).toBe(13);
  });

  it("a worker that does not finish within the stall limit: run() throws, the pool stops", async () => {
    const { p, cells } = await pool(1, 200);
    p.job(0, 3, [CELL + 5, 60_000]); // blocks its worker for a minute (stop() terminates it)
    const t0 = Date.now();
    let ownMs = 0;
    // this thread's share waits until the worker has claimed and started the job (else it would take it)
    const own = () => {
      Atomics.wait(cells, CELL + 6, 0, 10_000);
      ownMs = Date.now() - t0;
    };
    expect(() => p.run(own)).toThrow(/cpu threads: worker\(s\) 0 did not finish their share within \d+ ms \(exited or stuck\); the pool is stopped/);
    // the stall limit is max(200 ms, 50x this thread's share): far below the job's minute
    expect(Date.now() - t0).toBeLessThan(ownMs + Math.max(200, 50 * ownMs) + 2000);
    expect(p.failure).toMatch(/did not finish/);
    expect(() => p.run(() => undefined)).toThrow(/the worker pool was stopped/);
  }, 120_000);

  it("a job its worker has not claimed when this thread's share is done runs here", async () => {
    const { p, cells } = await pool(1);
    const ranByWorker = CTL / 4 + stateAt(4, 0) + 4; // the worker's count of jobs it ran itself
    p.job(0, 1, [CELL + 10, 1]);
    // a share here that lasts until the worker has run its job (up to 10 s)
    const untilWorkerWrote = (v: number) => () => {
      const end = Date.now() + 10_000;
      while (Atomics.load(cells, CELL + 10) !== v && Date.now() < end) Atomics.wait(cells, CELL + 11, 0, 1);
    };
    p.run(untilWorkerWrote(1));
    expect(cells[CELL + 10]).toBe(1);
    expect(cells[ranByWorker]).toBe(1);
    // With the worker asleep (it stops spinning within ~1 ms) and an empty share here, this thread
    // claims the job before the worker wakes (~0.1 ms), nearly always: tried up to 20 times, the
    // values right every time whoever ran the job.
    let claimedHere = false;
    for (let i = 2; i < 22 && !claimedHere; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const before = cells[ranByWorker];
      p.job(0, 1, [CELL + 10, i]);
      p.run(() => undefined);
      expect(cells[CELL + 10]).toBe(i);
      claimedHere = cells[ranByWorker] === before;
    }
    expect(claimedHere).toBe(true);
  }, 60_000);

  it("a worker skips a job that is already claimed, and the pool goes on", async () => {
    const { p, cells } = await pool(1);
    const state = CTL / 4 + stateAt(4, 0);
    p.job(0, 1, [CELL + 12, 1]);
    p.run(() => undefined);
    expect(cells[CELL + 12]).toBe(1);
    const ran = cells[state + 4];
    cells[state + 3] = cells[CTL / 4] + 1; // the next generation's job marked claimed (as the caller's compare-and-swap does)
    p.job(0, 1, [CELL + 12, 2]);
    p.run(() => Atomics.wait(cells, CELL + 13, 0, 20)); // the worker wakes during this share, sees the claim, skips
    expect(cells[CELL + 12]).toBe(1); // nobody ran it: the claim said someone else would
    expect(cells[state + 4]).toBe(ran);
    p.job(0, 1, [CELL + 12, 3]);
    p.run(() => Atomics.wait(cells, CELL + 13, 0, 20));
    expect(cells[CELL + 12]).toBe(3);
  });

  it("validates its options", async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 32768, shared: true });
    await expect(startWasmPool(module, memory, 0, { dispatch: "", slots: 4 })).rejects.toThrow("startWasmPool: workers must be an integer in 1..64, got 0");
    await expect(startWasmPool(module, memory, Number.NaN, { dispatch: "", slots: 4 })).rejects.toThrow(/workers must be an integer/);
    await expect(startWasmPool(module, memory, 1, { dispatch: "", slots: 4, stallMs: -5 })).rejects.toThrow(
      "startWasmPool: stallMs must be a positive number of milliseconds, got -5",
    );
  });
});

describe("the cpu backend's pool", () => {
  const product = () => {
    const a = T.normal([256, 256], 0, 1, { seed: 1 });
    const b = T.normal([256, 256], 0, 1, { seed: 2 });
    return T.matmul(a, b);
  };
  const reference = () => {
    T.setKernelPreference("reference");
    try {
      return product();
    } finally {
      T.setKernelPreference("fast");
    }
  };

  it("initCpuThreads validates its arguments", async () => {
    for (const bad of [Number.NaN, 0, -1, 1.5, 65, "2" as unknown as number])
      await expect(initCpuThreads(bad)).rejects.toThrow(/^initCpuThreads: threads must be an integer in 1\.\.64, got /);
    await expect(initCpuThreads(undefined, { stallTimeoutMs: -1 })).rejects.toThrow("initCpuThreads: stallTimeoutMs must be a positive number of milliseconds, got -1");
    await expect(initCpuThreads(undefined, { stallTimeoutMs: Number.NaN })).rejects.toThrow(/stallTimeoutMs must be a positive number/);
  });

  it("a killed worker: the next matmul completes with the right values (no hang)", async () => {
    expect(await initCpuThreads(2)).toBe(2);
    const pool = wasmKernels()!.pool!;
    await pool.terminateWorker(0);
    await new Promise((r) => setTimeout(r, 0));
    await assertClose(product(), reference(), { atol: 1e-3, rtol: 1e-5, label: "matmul after a worker was killed" });
    await until(() => pool.liveWorkers() === 1, 10_000);
    await assertClose(product(), reference(), { atol: 1e-3, rtol: 1e-5, label: "matmul on the replacement" });
  });

  it("a stopped pool: kernels run on one thread, same values; initCpuThreads() starts a new pool", async () => {
    expect(await initCpuThreads(2)).toBe(2);
    const old = wasmKernels()!.pool!;
    old.close();
    expect(old.failure).toBe("closed");
    await assertClose(product(), reference(), { atol: 1e-3, rtol: 1e-5, label: "one thread" });
    expect(await initCpuThreads()).toBe(2);
    const fresh = wasmKernels()!.pool!;
    expect(fresh).not.toBe(old);
    expect(fresh.failure).toBeNull();
    await assertClose(product(), reference(), { atol: 1e-3, rtol: 1e-5, label: "new pool" });
  });
});

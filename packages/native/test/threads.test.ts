/**
 * The addon in a process with worker threads: Node loads it once per process, so calls from the
 * main thread and a worker share its pool and scratch (serialized by a lock: results stay
 * right), and a worker's enableNative does not repoint the pool's spin flag at the worker's
 * buffer (which dies with the worker).
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon";
import { enableNative, nativeMatmul } from "../src/index";
import { cpuSpinFlag } from "@tessera/tensor";
import { info } from "./helpers";

const addonPath = loadAddon().path;
const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** Products of ones (each output equals K) for `ms` milliseconds; how many came out wrong. */
const LOOP = `
function loop(addon, ms) {
  let bad = 0;
  const t0 = Date.now();
  for (let it = 0; Date.now() - t0 < ms; it++) {
    const M = 1 + (it % 6), N = 32 + (it % 50) * 8, K = 64 + (it % 40) * 16; // GEMV and GEMM paths
    const a = new Float32Array(M * K).fill(1), b = new Float32Array(K * N).fill(1), c = new Float32Array(M * N);
    addon.matmul(a, b, c, M, N, K, it % 2 === 1, null);
    const x = new Float32Array(70000).fill(-1), y = new Float32Array(70000);
    addon.unary(0, x, y);
    if (c.some((v) => v !== K) || y.some((v) => Math.abs(v - Math.exp(-1)) > 1e-7)) bad++;
  }
  return bad;
}`;

describe.skipIf(!info.available)("the addon with worker threads", () => {
  it("calls from the main thread and a worker at the same time give right results", async () => {
    const code = `${LOOP}
const { parentPort, workerData } = require("node:worker_threads");
parentPort.postMessage(loop(require(workerData.path), 800));`;
    const worker = new Worker(code, { eval: true, workerData: { path: addonPath } });
    const fromWorker = new Promise<number>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const loop = new Function("addon", "ms", `${LOOP}; return loop(addon, ms);`) as (addon: unknown, ms: number) => number;
    const addon = loadAddon().addon;
    addon?.setThreads(2);
    const here = loop(addon, 800);
    expect(here).toBe(0);
    expect(await fromWorker).toBe(0);
    await worker.terminate();
  });

  it("a worker's enableNative leaves the pool on the main thread's spin flag", async () => {
    enableNative({ threads: 2 });
    const product = () => {
      cpuSpinFlag()[0] = 5; // as if another pool had dispatched
      nativeMatmul(new Float32Array(64 * 512).fill(1), new Float32Array(512 * 512).fill(1), 64, 512, 512);
      return cpuSpinFlag()[0];
    };
    expect(product()).toBe(-2); // the native pool marked its dispatch
    const worker = new Worker(`import(${JSON.stringify(dist)}).then((m) => m.enableNative({ threads: 2 }));`, { eval: true });
    await new Promise((resolve, reject) => {
      worker.once("exit", resolve);
      worker.once("error", reject);
    });
    expect(product()).toBe(-2);
  });
});

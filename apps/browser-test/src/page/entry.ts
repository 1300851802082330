/// <reference types="@webgpu/types" />
/**
 * The page side of the browser suite, bundled by esbuild from the packages' built dist/ (as an
 * application's bundler would). It exposes `window.tessera`: async functions the Node side
 * calls with page.evaluate; they return plain numbers, and the Node side checks them against
 * references it computes itself (float64 math, @tessera/tensor in Node, the fixture files).
 */
import {
  cpuSimdAvailable,
  cpuThreadsError,
  crossEntropy,
  exp,
  gelu,
  grad,
  initCpuThreads,
  layerNorm,
  matmul,
  mean,
  mul,
  pow,
  readSafetensors,
  ready,
  softmax,
  sum,
  tanh,
  tensor,
  toBackend,
  transpose,
  uniform,
  type Tensor,
} from "@tessera/tensor";
import type { WebGPUBackend } from "@tessera/tensor/webgpu";
import { registerWebGPU } from "@tessera/models/webgpu"; // the backend and the packages' fused WGSL kernels
import { fromPretrained, generate, type CausalLM } from "@tessera/models";

/**
 * Watches the cpu backend's WASM thread pool: the pool posts each worker its shared
 * WebAssembly.Memory, and keeps a control block at byte 8192 of it (Int32 slot 0 counts the
 * parallel runs; after 4 + 64 x SLOTS job slots, five Int32 per worker: started, the run it last
 * finished, the run it last failed, the run it last claimed, the count of jobs it ran itself — see
 * threads.ts). Wrapping Worker before the pool starts
 * lets the page read them, to show the workers really compute.
 */
const poolMemories: WebAssembly.Memory[] = [];
const NativeWorker = globalThis.Worker;
globalThis.Worker = class extends NativeWorker {
  override postMessage(message: unknown, options?: Transferable[] | StructuredSerializeOptions): void {
    const m = (message as { memory?: unknown } | null)?.memory;
    if (m instanceof WebAssembly.Memory) poolMemories.push(m);
    super.postMessage(message, options as StructuredSerializeOptions);
  }
};

function pool(): { workers: number; runs: number; workerJobs: number } {
  const memory = poolMemories[0];
  if (!memory) return { workers: 0, runs: 0, workerJobs: 0 };
  // The cpu backend pool's control block (packages/tensor/src/backend/cpu/wasm/threads.ts: CTL = 8192,
  // SLOTS job ints per worker for 64 workers, then STATE_INTS state ints per worker); keep both in step.
  const [SLOTS, STATE_INTS] = [11, 5];
  const ctl = new Int32Array(memory.buffer, 8192, 4 + 64 * SLOTS + 64 * STATE_INTS);
  const runs = Atomics.load(ctl, 0);
  let workerJobs = 0; // jobs the workers ran themselves (a share a worker had not claimed runs on the page's thread)
  for (let id = 0; id < poolMemories.length; id++) workerJobs += Atomics.load(ctl, 4 + 64 * SLOTS + id * STATE_INTS + 4);
  return { workers: poolMemories.length, runs, workerJobs };
}

const values = async (t: Tensor): Promise<number[]> => Array.from(await t.data());

/** Small ops and gradients on the cpu backend (references: hand-computed / float64 in Node). */
async function ops(): Promise<Record<string, number[]>> {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = tensor([
    [7, 8],
    [9, 10],
    [11, 12],
  ]);
  const x = tensor([
    [1, 2, 3],
    [0, 0, 0],
    [-1, 0.5, 4],
  ]);
  const ln = tensor([
    [1, 2, 3, 4],
    [-2, 0, 0.5, 8],
  ]);
  const v = tensor([-1, 0.5, 2]);
  const z = tensor([
    [2, 0, -1],
    [0.5, 1.5, -0.5],
  ]);
  const targets = tensor([0, 2], { dtype: "int32" });
  return {
    matmul: await values(matmul(a, b)),
    softmax: await values(softmax(x, -1)),
    layerNorm: await values(layerNorm(ln, tensor([1, 2, 0.5, -1]), tensor([0, 1, 0, -0.25]), 1e-5)),
    gelu: await values(gelu(tensor([-1, 0, 1, 2]))),
    meanAxis0: await values(mean(a, 0)),
    // d/dv sum(tanh(v) * v) = tanh(v) + v (1 - tanh(v)^2)
    gradTanh: await values(grad((t: Tensor) => sum(mul(tanh(t), t)))(v)[0]),
    // d/dA sum((A B)^2) = 2 (A B) B^T, d/dB = 2 A^T (A B)
    gradMatmulA: await values(grad((p: Tensor, q: Tensor) => sum(pow(matmul(p, q), 2)))(a, b)[0]),
    gradMatmulB: await values(grad((p: Tensor, q: Tensor) => sum(pow(matmul(p, q), 2)))(a, b)[1]),
    // d/dz mean cross-entropy = (softmax(z) - onehot(targets)) / B
    gradCrossEntropy: await values(grad((t: Tensor) => crossEntropy(t, targets))(z)[0]),
  };
}

/** What the page can do, and how many threads the cpu backend's WASM kernels really run. */
async function threads(want: number) {
  const count = await initCpuThreads(want);
  return {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer !== "undefined",
    hardwareConcurrency: navigator.hardwareConcurrency,
    threads: count,
    threadsError: cpuThreadsError(),
    simd: cpuSimdAvailable(),
  };
}

/** A 256x256 float matmul of seeded uniform inputs (the Node side makes the same inputs). */
async function matmul256(): Promise<{ c: number[]; ms: number; poolBefore: ReturnType<typeof pool>; poolAfter: ReturnType<typeof pool>; extraProducts: number }> {
  const a = uniform([256, 256], -1, 1, { seed: 11 });
  const b = uniform([256, 256], -1, 1, { seed: 12 });
  matmul(a, b).dispose(); // warm-up (packs, pool)
  const poolBefore = pool();
  const t0 = performance.now();
  const c = matmul(a, b);
  const ms = performance.now() - t0;
  // Whether a worker claims a share before the page's thread has run it depends on the OS
  // scheduling the workers (on a loaded 2-core machine a 1 ms product can finish on the page's
  // thread alone). Repeat the product, yielding between, until a worker has run a job: bounded
  // to 200 products or 10 s, so a pool whose workers never compute still fails the test.
  let extraProducts = 0;
  const deadline = performance.now() + 10_000;
  while (pool().workers > 0 && pool().workerJobs === 0 && extraProducts < 200 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    matmul(a, b).dispose();
    extraProducts++;
  }
  return { c: await values(c), ms, poolBefore, poolAfter: pool(), extraProducts };
}

let gpu: WebGPUBackend | null = null;

/** Registers the webgpu backend over navigator.gpu; null with the reason where there is none. */
async function webgpuInit(): Promise<{ adapter: string | null; reason?: string }> {
  if (!("gpu" in navigator) || !navigator.gpu) return { adapter: null, reason: `navigator.gpu is undefined (isSecureContext=${isSecureContext})` };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { adapter: null, reason: "navigator.gpu.requestAdapter() returned null" };
  registerWebGPU({ gpu: navigator.gpu });
  gpu = (await ready("webgpu")) as WebGPUBackend;
  return { adapter: `${gpu.info.vendor} ${gpu.info.architecture} ${gpu.info.description}`.trim() };
}

/** The same ops on cpu and on webgpu (inputs made on cpu, copied to the GPU). */
async function webgpuOps(): Promise<{ cpu: Record<string, number[]>; gpu: Record<string, number[]>; backends: string[] }> {
  if (!gpu) throw new Error("webgpuInit() first");
  const a = uniform([64, 96], -1, 1, { seed: 1 });
  const b = uniform([96, 48], -1, 1, { seed: 2 });
  const s = uniform([32, 100], -4, 4, { seed: 3 });
  const x = uniform([16, 64], -2, 2, { seed: 4 });
  const w = uniform([64], 0.5, 1.5, { seed: 5 });
  const bias = uniform([64], -0.5, 0.5, { seed: 6 });
  const run = async (on: (t: Tensor) => Tensor) => {
    const [A, B, S, X, W, Bi] = [a, b, s, x, w, bias].map(on);
    const lossAB = (p: Tensor, q: Tensor) => sum(tanh(matmul(p, q)));
    const gAB = grad(lossAB)(A, B);
    const gLn = grad((t: Tensor) => sum(mul(layerNorm(t, W, Bi), layerNorm(t, W, Bi))))(X)[0];
    const out: Record<string, Tensor> = {
      matmul: matmul(A, B),
      matmulTransposed: matmul(transpose(B), transpose(A)),
      softmax: softmax(S, -1),
      layerNorm: layerNorm(X, W, Bi),
      gelu: gelu(X),
      exp: exp(S),
      sumAxis1: sum(S, 1),
      gradMatmulA: gAB[0],
      gradMatmulB: gAB[1],
      gradLayerNorm: gLn,
    };
    const r: Record<string, number[]> = {};
    const backends: string[] = [];
    for (const [k, t] of Object.entries(out)) {
      backends.push(t.backend);
      r[k] = await values(t);
    }
    return { r, backends };
  };
  const cpu = await run((t) => t);
  const g = await run((t) => toBackend(t, "webgpu"));
  return { cpu: cpu.r, gpu: g.r, backends: g.backends };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Loads a Hugging Face save_pretrained folder with fetch (config.json + model.safetensors),
 * runs the reference input through it and generates greedily from the reference prompt.
 * This is the code packages/models/README.md shows for browsers.
 */
async function model(base: string, backend: "cpu" | "webgpu") {
  const config = await (await fetch(`${base}/config.json`)).json();
  const { tensors } = readSafetensors(await fetchBytes(`${base}/model.safetensors`), { backend });
  const { model: lm, modelType } = fromPretrained(config, tensors, { backend });
  for (const t of Object.values(tensors)) t.dispose(); // the model holds its own copies
  const expected = readSafetensors(await fetchBytes(`${base}/expected.safetensors`)).tensors;
  const lmc = lm as CausalLM;
  const ids = toBackend(expected["input_ids"], backend);
  const logits = lmc.forward(ids).logits;
  const prompt = expected["generate.prompt"];
  const maxNewTokens = expected["generate.output"].shape[1] - prompt.shape[1];
  const out = await generate(lmc, prompt, { maxNewTokens });
  const result = {
    modelType,
    parameterBackend: lmc.parameters()[0].backend,
    logitsBackend: logits.backend,
    logitsShape: [...logits.shape],
    logits: await values(logits),
    sequence: out.sequences[0],
  };
  lm.dispose();
  return result;
}

const api = { ops, threads, matmul256, webgpuInit, webgpuOps, model };
export type PageApi = typeof api;
(globalThis as unknown as { tessera: PageApi }).tessera = api;

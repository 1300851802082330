/// <reference types="@webgpu/types" />
/**
 * The browser's Tessera backends for the web page (in its bundle this replaces ../backends.ts,
 * which starts Dawn and gpu.js in Node): the cpu backend (WASM SIMD GEMM, on a thread pool when
 * the page is cross-origin isolated) and WebGPU over navigator.gpu when it has an adapter.
 */
import { initCpuThreads, listBackends, ready, setBackend, type Backend } from "@tessera/tensor";
import { initAttentionThreads } from "@tessera/attention";
import { initQuantizedThreads } from "@tessera/quantize";
import { initScanThreads } from "@tessera/ssm";
import { registerWebGPU } from "@tessera/models/webgpu"; // the backend and the packages' fused WGSL kernels

/** Threads the cpu backend's GEMM runs on (set by useBackend("cpu")). */
export let cpuThreads = 1;
/** The cpu backend's float32 GEMM and element-wise kernels: always WebAssembly in a browser (no native addon). */
export const cpuKernels = "wasm";
/** As the Node bench's: runs `fn` on the WebAssembly kernels, which is all a browser has. */
export function withWasmKernels<T>(fn: () => T): T {
  return fn();
}

/** The WebGPU adapter's description, or why there is none. */
export async function probeWebGPU(): Promise<{ adapter: string | null; reason: string }> {
  if (!("gpu" in navigator) || !navigator.gpu) return { adapter: null, reason: `navigator.gpu is undefined (isSecureContext=${isSecureContext})` };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { adapter: null, reason: "navigator.gpu.requestAdapter() returned null" };
  const info = adapter.info;
  return { adapter: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ") || "yes", reason: "" };
}

export async function useBackend(name: string): Promise<Backend> {
  if (name === "webgpu" && !listBackends().includes("webgpu")) {
    if (!navigator.gpu) throw new Error("webgpu: navigator.gpu is undefined in this browser");
    registerWebGPU({ gpu: navigator.gpu });
  }
  if (name === "cpu") {
    cpuThreads = await initCpuThreads();
    await Promise.all([initQuantizedThreads(), initAttentionThreads(), initScanThreads()]); // the packages' own kernel pools, before timing
  }
  if (!listBackends().includes(name)) throw new Error(`unknown backend '${name}' (available here: ${listBackends().join(", ")})`);
  setBackend(name);
  return ready(name);
}

/**
 * Starting Tessera backends for benchmarking. `webgpu` runs through Dawn (the `webgpu`
 * package): on a machine without a GPU, on SwiftShader (correct but slow).
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { CPU_ELEMENTWISE, CPU_GEMM, getKernel, initCpuThreads, listBackends, ready, registerKernel, setBackend, unregisterKernel, type Backend } from "@tessera/tensor";
import { registerWebGPU } from "@tessera/tensor/webgpu";
// The packages' fused WGSL kernels (flash attention, quantized linear, codebook search, selective scan).
import "@tessera/attention/webgpu";
import "@tessera/codebook/webgpu";
import "@tessera/quantize/webgpu";
import "@tessera/ssm/webgpu";
import { registerGpuJs, type GpuJsLike } from "@tessera/tensor/gpujs";
import { initQuantizedThreads } from "@tessera/quantize";
import { initAttentionThreads } from "@tessera/attention";
import { initScanThreads } from "@tessera/ssm";
import { disableNative, enableNative, nativeInfo } from "@tessera/native";

const SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json";
const keepAlive: unknown[] = []; // Dawn's GPU object must outlive all pending work
/** Threads the cpu backend's GEMM runs on (set by useBackend("cpu")). */
export let cpuThreads = 1;
/** The cpu backend's float32 GEMM and element-wise kernels: "native avx512 x2" (@tessera/native) or "wasm" (set by useBackend("cpu")). */
export let cpuKernels = "wasm";
/** Why the native kernels are not in use (null when they are, or were not asked for). */
export let cpuKernelsNote: string | null = null;

/**
 * Which kernels the cpu backend runs for float32 products and element-wise ops: "native"
 * (@tessera/native's addon, when it built; the default) or "wasm" (Tessera's WebAssembly SIMD
 * kernels). TESSERA_CPU_KERNELS=wasm or --cpu-kernels wasm.
 */
export let cpuKernelChoice: "native" | "wasm" = process.env.TESSERA_CPU_KERNELS === "wasm" ? "wasm" : "native";
export function setCpuKernelChoice(c: "native" | "wasm"): void {
  cpuKernelChoice = c;
}

/** Runs `fn` with the cpu backend on its WebAssembly kernels (the native ones unregistered meanwhile): the "tessera wasm" rows. */
export function withWasmKernels<T>(fn: () => T): T {
  const saved = [CPU_GEMM, CPU_ELEMENTWISE].map((name) => [name, getKernel(name, "cpu", { count: false, ignorePreference: true })] as const);
  for (const [name] of saved) unregisterKernel(name, "cpu");
  try {
    return fn();
  } finally {
    for (const [name, k] of saved) if (k !== undefined) registerKernel(name, "cpu", k);
  }
}

export const BACKENDS = ["cpu", "webgpu", "gpujs"] as const;

/** Registers (if needed), selects and initializes a backend; returns it. gpujs runs in gpu.js's
 * webasm mode unless TESSERA_GPUJS_MODE names another (webgl2, headlessgl, cpu). */
export async function useBackend(name: string): Promise<Backend> {
  if (name === "gpujs" && !listBackends().includes("gpujs")) {
    const { GPU } = (await import("gpu.js")).default as unknown as { GPU: new (o: object) => GpuJsLike };
    registerGpuJs(new GPU({ mode: process.env.TESSERA_GPUJS_MODE ?? "webasm" }));
  }
  if (name === "webgpu" && !listBackends().includes("webgpu")) {
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER) && !existsSync("/dev/nvidia0")) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
    process.env.XDG_RUNTIME_DIR ??= tmpdir();
    const { create, globals } = await import("webgpu");
    Object.assign(globalThis, globals);
    const gpu = create([]);
    keepAlive.push(gpu);
    registerWebGPU({ gpu });
  }
  if (!listBackends().includes(name)) throw new Error(`unknown backend '${name}' (available: ${BACKENDS.join(", ")})`);
  if (name === "cpu") {
    cpuThreads = await initCpuThreads(); // start the GEMM worker pool before timing
    await initQuantizedThreads(); // and @tessera/quantize's kernel pool
    await initAttentionThreads(); // and the fused attention's (a pool started at first use waits for the event loop, which a timing loop may never yield)
    await initScanThreads(); // and the selective scan's
    if (cpuKernelChoice === "native") {
      const info = nativeInfo();
      if (info.available) {
        const on = enableNative({ threads: cpuThreads });
        cpuKernels = `native ${on.isa} x${on.threads}`;
        cpuKernelsNote = null;
      } else cpuKernelsNote = info.reason;
    } else {
      disableNative();
      cpuKernels = "wasm";
    }
  }
  setBackend(name);
  return ready(name);
}

/** Waits for the backend's queued work (a no-op on synchronous backends). */
export function syncOf(b: Backend): () => Promise<void> {
  return b.sync ? () => b.sync!() : async () => undefined;
}

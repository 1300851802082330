/**
 * `@tessera/tensor/gpujs`: the gpu.js backend.
 *
 *   import { GPU } from "gpu.js";
 *   import { registerGpuJs } from "@tessera/tensor/gpujs";
 *   registerGpuJs(new GPU({ mode: "webasm" }));   // or "webgl2", "headlessgl", "cpu"
 *   setBackend("gpujs");
 */
import { registerBackend } from "@tessera/tensor";
import { createGpuJsBackend, type GpuJsLike } from "./backend/gpujs/index";

export { createGpuJsBackend, type GpuJsBackend, type GpuJsBackendInfo, type GpuJsLike } from "./backend/gpujs/index";

/** Registers the `gpujs` backend over a gpu.js `GPU` instance (its `mode` picks the engine). */
export function registerGpuJs(gpu: GpuJsLike): void {
  registerBackend("gpujs", () => createGpuJsBackend(gpu));
}

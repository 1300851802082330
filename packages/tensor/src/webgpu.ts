/**
 * `@tessera/tensor/webgpu`: the WebGPU backend.
 *
 *   import { registerWebGPU } from "@tessera/tensor/webgpu";
 *   import { create, globals } from "webgpu";          // Node only; browsers have navigator.gpu
 *   Object.assign(globalThis, globals);
 *   registerWebGPU({ gpu: create([]) });
 *   setBackend("webgpu"); await ready();
 */
import { registerBackend } from "@tessera/tensor";
import { createWebGPUBackend, type WebGPUOptions } from "./backend/webgpu/index";

export {
  createWebGPUBackend,
  type WebGPUBackend,
  type WebGPUInfo,
  type WebGPUOptions,
  type WgslKernelSpec,
  type WebGPUData,
  type WebGPULike,
  type WebGPUAdapterLike,
  type WebGPUDeviceLike,
  type WebGPUBufferLike,
  type WebGPUPowerPreference,
} from "./backend/webgpu/index";
export { shader as wgslShader, f32bits, PRELUDE as WGSL_PRELUDE, type Binding as WgslBinding } from "./backend/webgpu/wgsl";
export { wgslKernel, type WgslKernelCall } from "./backend/webgpu/custom";

/** Registers the `webgpu` backend (created on first use; `await ready('webgpu')` to wait). */
export function registerWebGPU(opts: WebGPUOptions = {}): void {
  registerBackend("webgpu", () => createWebGPUBackend(opts));
}

/**
 * `@tessera/attention/webgpu`: registers this package's WGSL kernels (the fused flash-attention
 * forward) in @tessera/tensor's kernel registry for the `webgpu` backend. Import it once next to
 * `registerWebGPU` from `@tessera/tensor/webgpu`; without it, attention on webgpu runs the
 * composed tiled forward (same results, more passes), and a cpu-only bundle carries no WGSL.
 *
 *   import { registerWebGPU } from "@tessera/tensor/webgpu";
 *   import "@tessera/attention/webgpu";
 */
import { registerKernel } from "@tessera/tensor";
import { flashForwardWgsl, flashKernelApplies } from "./flash-wgsl";
import { FLASH_ATTENTION, type FlashForwardKernel } from "./kernels";

export const flashForwardKernel: FlashForwardKernel = { applies: flashKernelApplies, run: flashForwardWgsl };

/** Registers the WGSL kernels for the backend called `backend` (default 'webgpu'; done on import for 'webgpu'). */
export function registerAttentionWebGPU(backend = "webgpu"): void {
  registerKernel(FLASH_ATTENTION, backend, flashForwardKernel);
}

registerAttentionWebGPU();

export { FLASH_ATTENTION, type FlashForwardKernel } from "./kernels";

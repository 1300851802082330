/**
 * `@tessera/codebook/webgpu`: registers this package's WGSL kernels (the fused nearest-code
 * search) in @tessera/tensor's kernel registry for the `webgpu` backend. Import it once next to
 * `registerWebGPU` from `@tessera/tensor/webgpu`; without it, search on webgpu scores codes with
 * the backend's GEMM (same indices), and a cpu-only bundle carries no WGSL.
 *
 *   import { registerWebGPU } from "@tessera/tensor/webgpu";
 *   import "@tessera/codebook/webgpu";
 */
import { registerKernel } from "@tessera/tensor";
import { nearestCodeWgsl } from "./search-wgsl";
import { NEAREST_CODE, type NearestCodeKernel } from "./search";

export const nearestCodeKernel: NearestCodeKernel = nearestCodeWgsl;

/** Registers the WGSL kernels for the backend called `backend` (default 'webgpu'; done on import for 'webgpu'). */
export function registerCodebookWebGPU(backend = "webgpu"): void {
  registerKernel(NEAREST_CODE, backend, nearestCodeKernel);
}

registerCodebookWebGPU();

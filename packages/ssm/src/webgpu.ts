/**
 * `@tessera/ssm/webgpu`: registers this package's WGSL kernels (the fused selective scan, forward
 * and backward) in @tessera/tensor's kernel registry for the `webgpu` backend. Import it once
 * next to `registerWebGPU` from `@tessera/tensor/webgpu`; without it, the scan on webgpu runs the
 * chunked form (tensor ops, same results), and a cpu-only bundle carries no WGSL.
 *
 *   import { registerWebGPU } from "@tessera/tensor/webgpu";
 *   import "@tessera/ssm/webgpu";
 */
import { registerKernel } from "@tessera/tensor";
import { scanBackwardWgsl, scanForwardWgsl, WGSL_MAX_STATE } from "./selective/kernel-wgsl";
import { SELECTIVE_SCAN, type SelectiveScanKernel } from "./selective/kernels";

export const selectiveScanKernel: SelectiveScanKernel = {
  maxState: WGSL_MAX_STATE,
  run(shape, get) {
    const values = scanForwardWgsl(shape, get);
    return { values, grad: (dOut, dLast) => scanBackwardWgsl(shape, get, dOut, dLast) };
  },
};

/** Registers the WGSL kernels for the backend called `backend` (default 'webgpu'; done on import for 'webgpu'). */
export function registerSsmWebGPU(backend = "webgpu"): void {
  registerKernel(SELECTIVE_SCAN, backend, selectiveScanKernel);
}

registerSsmWebGPU();

/**
 * `@tessera/quantize/webgpu`: registers this package's WGSL kernels (the quantized linear's
 * gemv / dequantize with codes packed in GPU memory, and the exact int8 product) in
 * @tessera/tensor's kernel registry for the `webgpu` backend. Import it once next to
 * `registerWebGPU` from `@tessera/tensor/webgpu`; without it, quantized linears on webgpu upload
 * the weight dequantized on the cpu and run the backend's GEMM, int8MatmulTensor on webgpu fails
 * with the backends that have a kernel, and a cpu-only bundle carries no WGSL.
 *
 *   import { registerWebGPU } from "@tessera/tensor/webgpu";
 *   import "@tessera/quantize/webgpu";
 */
import { registerKernel } from "@tessera/tensor";
import { int8MatmulWgsl } from "./kernels/int8-wgsl";
import { INT8_MATMUL, QUANTIZED_LINEAR, type Int8MatmulKernel, type QuantizedLinearKernel } from "./kernels/registry";
import { webgpuLinear } from "./kernels/wgsl";

/** Registers the WGSL kernels for the backend called `backend` (default 'webgpu'; done on import for 'webgpu'). */
export function registerQuantizeWebGPU(backend = "webgpu"): void {
  registerKernel<QuantizedLinearKernel>(QUANTIZED_LINEAR, backend, webgpuLinear);
  registerKernel<Int8MatmulKernel>(INT8_MATMUL, backend, int8MatmulWgsl);
}

registerQuantizeWebGPU();

/**
 * The fused kernels this package looks up in @tessera/tensor's kernel registry. The main entry
 * registers the cpu ones (WebAssembly SIMD with TypeScript loops under them); the WGSL ones come
 * from `@tessera/quantize/webgpu`. A backend without one runs the composed reference (dequantize
 * + the backend's GEMM) or, for exact int8 products, says which backends have a kernel.
 */
import type { Tensor } from "@tessera/tensor";
import type { QuantizedLinearWeight } from "../linear";

/** Rows up to which products run the fused GEMV kernels (decoding); more rows dequantize + GEMM. */
export const FUSED_MAX_ROWS = 4;

/** Registry name of the quantized linear kernel. */
export const QUANTIZED_LINEAR = "quantize.linear";
/** Registry name of the exact int8 x int8 -> int32 product. */
export const INT8_MATMUL = "quantize.int8Matmul";

/**
 * y [M, N] = x [M, K] W^T for a weight with a fused form (`w.fused`), x float32 on the kernel's
 * backend; null when this kernel does not cover the call (the op then dequantizes and runs the
 * backend's GEMM).
 */
export type QuantizedLinearKernel = (x: Tensor, w: QuantizedLinearWeight, M: number) => Tensor | null;

/** c [M, N] int32 = a [M, K] b [N, K]^T exactly, a and b int8 on the kernel's backend. */
export type Int8MatmulKernel = (a: Tensor, b: Tensor) => Tensor;

/**
 * The fused kernels this package looks up in @tessera/tensor's kernel registry. The main entry
 * registers the cpu ones (WebAssembly SIMD with TypeScript loops under them); the WGSL ones come
 * from `@tessera/quantize/webgpu`. A backend without one runs the composed reference (dequantize
 * + the backend's GEMM) or, for exact int8 products, says which backends have a kernel.
 */
import type { Tensor } from "@tessera/tensor";
import type { QuantizedLinearWeight } from "../linear";

/** Rows up to which the webgpu kernels run the fused GEMV (decoding); more rows dequantize + GEMM. The cpu's limit is CPU_FUSED_MAX_ROWS. */
export const FUSED_MAX_ROWS = 4;

/**
 * Rows up to which the cpu's fused kernels run (one GEMV per row); more rows dequantize + GEMM.
 * The GEMV's time grows with the rows, dequantize + GEMM's mostly does not (it expands the whole
 * weight to float32 every call). Crossovers measured on 2 threads (Node 20, relaxed SIMD): 4096 x
 * 4096 weights at 128 (int8), 96 (int4 g64) and 64 rows (NF4); 2048 x 768 at 64-96, 48-64 and
 * 32-48. At 16 rows the fused kernels take 21-29 ms against 105-113 ms (4096 x 4096).
 */
export const CPU_FUSED_MAX_ROWS = 32;

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

/**
 * Kernels another package registers for the cpu backend through the kernel registry (backend
 * "cpu"): @tessera/native's addon registers both on Node. The cpu backend looks them up before
 * its WebAssembly kernels; under the 'reference' preference the lookup fails (plain loops run).
 */
import type { BinaryOp, UnaryOp } from "../backend";
import { getKernel } from "../../core/kernels";
import { giveStorage, takeStorage } from "./pool";

/** The kernel registry's name for a float32 GEMM on the cpu. */
export const CPU_GEMM = "cpuGemm";

/**
 * A float32 GEMM for the cpu backend, registered as kernel "cpuGemm" for backend "cpu": c [M, N]
 * = a [M, K] b (+ bias [N] on every row), every array dense row-major; b is [K, N], or with
 * `transB` the transpose of a row-major [N, K] (an nn.Linear weight). It must not keep the arrays.
 */
export interface CpuGemmKernel {
  /** Names the implementation (for reports: "native avx512 x2"). */
  readonly name: string;
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, transB: boolean, bias: Float32Array | null): void;
}

/** The kernel registry's name for float32 element-wise ops on the cpu. */
export const CPU_ELEMENTWISE = "cpuElementwise";

/**
 * Float32 element-wise ops for the cpu backend, registered as kernel "cpuElementwise" for
 * backend "cpu". Each returns false, having written nothing, for an op it does not implement
 * (the backend then runs its own). Arrays are dense; `out` has the input's length.
 */
export interface CpuElementwiseKernel {
  readonly name: string;
  /** out = op(x). */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array): boolean;
  /** out[i] = a[i] op b[i % b.length] (b.length divides a.length: the same size, or a row repeated). */
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): boolean;
  /**
   * dst[dstOffset + i . dstStrides] = src[srcOffset + i . srcStrides] for every index i of `shape`
   * (strides in elements; src and dst in different buffers): a view gathered into dense storage,
   * or dense values scattered into a view.
   */
  copy(src: Float32Array, srcOffset: number, shape: readonly number[], srcStrides: readonly number[], dst: Float32Array, dstOffset: number, dstStrides: readonly number[]): boolean;
  /**
   * Row-wise ops over x [rows, D] (dense) into out (the same length): "softmax" / "logSoftmax"
   * (max-shifted; a row of -inf gives NaN, as PyTorch), "layerNorm" ((x - mean) / sqrt(biased
   * variance + eps) * weight + bias, two passes), "rmsNorm" (x / sqrt(mean(x^2) + eps), rounded
   * to float32, * weight). weight and bias are [D] or null (softmax takes neither, RMSNorm no
   * bias). Optional: a kernel without it, or returning false, leaves these to the backend.
   */
  rows?(op: CpuRowOp, x: Float32Array, rows: number, D: number, out: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number): boolean;
}

/** The row-wise ops a cpuElementwise kernel may take (CpuElementwiseKernel.rows). */
export type CpuRowOp = "softmax" | "logSoftmax" | "layerNorm" | "rmsNorm";

/**
 * The kernel registry's name for the fused attention forward on the cpu: @tessera/attention's
 * fused cpu path runs it, when one is registered, instead of its WebAssembly forward kernels
 * (@tessera/native registers one on Node); the WebAssembly backward still serves gradients.
 */
export const CPU_ATTENTION = "cpuAttention";

/** An attention forward: sizes and options (the semantics of @tessera/attention's scaledDotProductAttention). */
export interface CpuAttentionProblem {
  B: number;
  /** Query heads; a multiple of Hkv (query head h reads key / value head h / (H / Hkv)). */
  H: number;
  Hkv: number;
  /** Query rows per head (positions bottom-right aligned: row r sits at r + Tk - Tq). */
  Tq: number;
  Tk: number;
  D: number;
  Dv: number;
  scale: number;
  causal: boolean;
  /** Sliding window [left, right] (keys pos - left .. pos + right), or null. */
  window: readonly [number, number] | null;
  /** Gemma 2 logit softcap c (s = c tanh(s / c)), or null. */
  softcap: number | null;
  /** Rows with no key give 0 instead of NaN. */
  zeroMaskedRows: boolean;
  /** [B, Tk]: 0, or -inf on padding keys; or null. */
  keyBias: Float32Array | null;
  /** ALiBi slopes, one per query head, or null. */
  alibiSlopes: Float32Array | null;
}

/**
 * Rows of an operand read (or written) in place: row r of head h of batch b starts at
 * data[offset + b * strides[0] + h * strides[1] + r * strides[2]], its values contiguous.
 */
export interface CpuAttentionRows {
  data: Float32Array;
  offset: number;
  strides: readonly [number, number, number];
}

/**
 * A fused attention forward over operands read in place (a fused qkv projection's columns, a key /
 * value cache's storage), registered as kernel "cpuAttention" for backend "cpu": out [B, H, Tq, Dv]
 * (written through its rows) = softmax(q k^T scale + biases) v, and lse [B*H*Tq] dense (the rows'
 * logsumexp; -inf for a row with no key). Returns false, having written nothing, for a problem it
 * does not take (the caller's own kernel runs). It must not keep the arrays.
 */
export interface CpuAttentionKernel {
  readonly name: string;
  forward(p: CpuAttentionProblem, q: CpuAttentionRows, k: CpuAttentionRows, v: CpuAttentionRows, out: CpuAttentionRows, lse: Float32Array): boolean;
}

/** The kernel registered as `name` for the cpu, counted in kernelStats only when there is one. */
export function registeredCpuKernel<K>(name: string): K | undefined {
  if (!getKernel(name, "cpu", { count: false })) return undefined;
  return getKernel<K>(name, "cpu");
}

/**
 * A float32 result of n values from a registered kernel: `fill` writes it into pooled storage and
 * says whether it did; a kernel that declines gives the storage back (null: the caller's own runs).
 */
export function viaRegistered(n: number, fill: (out: Float32Array) => boolean): Float32Array | null {
  const out = takeStorage("float32", n) as Float32Array;
  if (fill(out)) return out;
  giveStorage(out);
  return null;
}

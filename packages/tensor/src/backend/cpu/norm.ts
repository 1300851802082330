/**
 * Row-wise fused kernels over the last axis: softmax / log-softmax (max-shifted), LayerNorm
 * (two-pass mean and biased variance, as torch.nn.functional.layer_norm) and RMSNorm
 * (x * rsqrt(mean(x^2) + eps), as Hugging Face LlamaRMSNorm).
 */
import { isFloat, type StorageArray } from "../../core/dtype";
import { isContiguous, sizeOf } from "../../core/shape";
import { CPU_ELEMENTWISE, registeredCpuKernel, viaRegistered, type CpuElementwiseKernel, type CpuRowOp } from "./registered";
import { computeArray, contiguousValues, toStorage, type CpuView } from "./strided";
import { wasmFits, wasmKernels, type WasmKernels } from "./wasm/runtime";

/** Float tensors from this many elements take the WASM SIMD kernels (wasm/rows.ts). */
export const WASM_MIN_ELEMS = 4096;

function simd(x: CpuView): WasmKernels | null {
  return isFloat(x.dtype) && sizeOf(x.shape) >= WASM_MIN_ELEMS ? wasmKernels() : null;
}

const f32 = (v: CpuView): Float32Array => {
  const c = contiguousValues(v);
  return c instanceof Float32Array ? c : Float32Array.from(c);
};

/**
 * A registered kernel's row op (@tessera/native) on float32 x read in place: its output, or null
 * (no kernel or no row ops, another dtype, a small or strided x, or the kernel declined).
 */
function registeredRows(op: CpuRowOp, x: CpuView, weight: CpuView | null, bias: CpuView | null, eps: number): StorageArray | null {
  const total = sizeOf(x.shape);
  if (x.dtype !== "float32" || total < WASM_MIN_ELEMS || !isContiguous(x.shape, x.strides)) return null;
  const k = registeredCpuKernel<CpuElementwiseKernel>(CPU_ELEMENTWISE);
  if (!k?.rows) return null;
  const D = x.shape[x.shape.length - 1] ?? 1;
  const values = (x.data as Float32Array).subarray(x.offset, x.offset + total);
  return viaRegistered(total, (out) => k.rows?.(op, values, total / D, D, out, weight && f32(weight), bias && f32(bias), eps) ?? false);
}

export function softmax(x: CpuView, log: boolean): StorageArray {
  const n = x.shape[x.shape.length - 1] ?? 1;
  const total = sizeOf(x.shape);
  const native = registeredRows(log ? "logSoftmax" : "softmax", x, null, null, 0);
  if (native) return native;
  const k = simd(x);
  if (k) {
    const out = computeArray(x.dtype, total) as Float32Array;
    if (wasmFits(() => k.softmax(f32(x), total / n, n, log, out))) return toStorage(x.dtype, out);
  }
  const a = contiguousValues(x);
  const out = computeArray(x.dtype, total);
  for (let base = 0; base < total; base += n) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (a[base + i] > m) m = a[base + i];
    if (m === -Infinity) m = 0; // a fully masked row: exp(-inf - 0) = 0 -> NaN as in PyTorch
    let sum = 0;
    if (log) {
      for (let i = 0; i < n; i++) sum += Math.exp(a[base + i] - m);
      const lse = m + Math.log(sum);
      for (let i = 0; i < n; i++) out[base + i] = a[base + i] - lse;
    } else {
      for (let i = 0; i < n; i++) {
        const e = Math.exp(a[base + i] - m);
        out[base + i] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let i = 0; i < n; i++) out[base + i] *= inv;
    }
  }
  return toStorage(x.dtype, out);
}

export function layerNorm(x: CpuView, weight: CpuView | null, bias: CpuView | null, eps: number): StorageArray {
  const n = x.shape[x.shape.length - 1];
  const total = sizeOf(x.shape);
  const native = registeredRows("layerNorm", x, weight, bias, eps);
  if (native) return native;
  const k = simd(x);
  if (k) {
    const out = computeArray(x.dtype, total) as Float32Array;
    if (wasmFits(() => k.norm(f32(x), weight && f32(weight), bias && f32(bias), total / n, n, eps, false, out))) return toStorage(x.dtype, out);
  }
  const a = contiguousValues(x);
  const w = weight ? contiguousValues(weight) : null;
  const b = bias ? contiguousValues(bias) : null;
  const out = computeArray(x.dtype, total);
  for (let base = 0; base < total; base += n) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += a[base + i];
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const d = a[base + i] - mean;
      v += d * d;
    }
    const rstd = 1 / Math.sqrt(v / n + eps);
    // One loop per affine variant keeps branches out of the per-element work.
    if (w && b) for (let i = 0; i < n; i++) out[base + i] = (a[base + i] - mean) * rstd * w[i] + b[i];
    else if (w) for (let i = 0; i < n; i++) out[base + i] = (a[base + i] - mean) * rstd * w[i];
    else if (b) for (let i = 0; i < n; i++) out[base + i] = (a[base + i] - mean) * rstd + b[i];
    else for (let i = 0; i < n; i++) out[base + i] = (a[base + i] - mean) * rstd;
  }
  return toStorage(x.dtype, out);
}

export function rmsNorm(x: CpuView, weight: CpuView | null, eps: number): StorageArray {
  const n = x.shape[x.shape.length - 1];
  const total = sizeOf(x.shape);
  const native = registeredRows("rmsNorm", x, weight, null, eps);
  if (native) return native;
  const k = simd(x);
  if (k) {
    const out = computeArray(x.dtype, total) as Float32Array;
    if (wasmFits(() => k.norm(f32(x), weight && f32(weight), null, total / n, n, eps, true, out))) return toStorage(x.dtype, out);
  }
  const a = contiguousValues(x);
  const w = weight ? contiguousValues(weight) : null;
  const out = computeArray(x.dtype, total);
  for (let base = 0; base < total; base += n) {
    let ms = 0;
    for (let i = 0; i < n; i++) ms += a[base + i] * a[base + i];
    // Hugging Face rounds the normalized value to float32 before the weight multiply.
    const r = 1 / Math.sqrt(ms / n + eps);
    if (w) for (let i = 0; i < n; i++) out[base + i] = w[i] * Math.fround(a[base + i] * r);
    else for (let i = 0; i < n; i++) out[base + i] = a[base + i] * r;
  }
  return toStorage(x.dtype, out);
}

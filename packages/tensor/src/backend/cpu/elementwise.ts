/**
 * Elementwise cpu kernels: copy/cast, write, fill, unary, binary, where. Each kernel walks its
 * output row by row (see strided.ts) and switches on the op once per row, not per element.
 */
import { fail } from "../../core/errors";
import { f32ToBf16Bits, f32ToF16Bits, isHalf, type DataArray, type DType, type StorageArray } from "../../core/dtype";
import { sizeOf } from "../../core/shape";
import type { BinaryOp, UnaryAttrs, UnaryOp } from "../backend";
import { erf, roundHalfEven, SQRT1_2, SQRT_2_OVER_PI } from "./math";
import { computeArray, contiguousValues, forEachRow, operand, REGISTERED_COPY_MIN_ELEMS, shortRows, toStorage, type CpuView } from "./strided";
import { WASM_UNARY, wasmFits, wasmKernels } from "./wasm/runtime";
import { isFloat } from "../../core/dtype";
import { contiguousStrides, isContiguous } from "../../core/shape";
import { CPU_ELEMENTWISE, registeredCpuKernel, viaRegistered, type CpuElementwiseKernel } from "./registered";

/**
 * Float unary ops run the WASM SIMD kernels from this many elements (GELU of a decode step's 3072
 * MLP values: 11 us there, 107 us in TypeScript).
 */
const WASM_MIN_ELEMS = 1024;

export function fill(size: number, dtype: DType, value: number): StorageArray {
  const out = computeArray(dtype, size);
  out.fill(dtype === "bool" ? (value ? 1 : 0) : value);
  return toStorage(dtype, out);
}

/** Converts a value to what an integer or bool array should receive. */
function caster(dtype: DType): ((v: number) => number) | null {
  if (dtype === "bool") return (v) => (v !== 0 ? 1 : 0);
  if (dtype === "int32" || dtype === "int8" || dtype === "uint8") return (v) => (Number.isFinite(v) ? Math.trunc(v) : 0);
  return null;
}

export function copy(x: CpuView, dtype: DType): StorageArray {
  const n = sizeOf(x.shape);
  if (x.dtype === dtype) {
    const vals = contiguousValues(x);
    // contiguousValues may return a subarray of the input: always hand back fresh storage.
    if (isHalf(dtype)) return toStorage(dtype, vals);
    return vals === x.data || vals.buffer === (x.data as StorageArray).buffer ? vals.slice() : vals;
  }
  const src = operand(x);
  const out = computeArray(dtype, n);
  const cast = caster(dtype);
  forEachRow(x.shape, [src.strides], [src.offset], (o, offs, len, inner) => {
    const s = inner[0];
    const a = src.arr;
    let j = offs[0];
    if (cast) for (let i = 0; i < len; i++, j += s) out[o + i] = cast(a[j]);
    else for (let i = 0; i < len; i++, j += s) out[o + i] = a[j];
  });
  return toStorage(dtype, out);
}

/** Writes src into the strided view dst (in place), converting to dst's dtype. */
export function write(dst: CpuView, src: CpuView): void {
  const vals = contiguousValues(src);
  const data = dst.data;
  // A registered float32 kernel (@tessera/native) scatters into the view in one call.
  if (dst.dtype === "float32" && vals instanceof Float32Array && data instanceof Float32Array && vals.buffer !== data.buffer && vals.length >= REGISTERED_COPY_MIN_ELEMS) {
    const k = registeredCpuKernel<CpuElementwiseKernel>(CPU_ELEMENTWISE);
    if (k?.copy(vals, 0, dst.shape, contiguousStrides(dst.shape), data, dst.offset, dst.strides)) return;
  }
  const cast = caster(dst.dtype);
  const enc = dst.dtype === "float16" ? f32ToF16Bits : dst.dtype === "bfloat16" ? f32ToBf16Bits : null;
  const short = enc || cast ? null : shortRows(dst.shape, dst.strides);
  if (short) {
    const { rows, n, rowStride, step } = short;
    for (let r = 0, o = 0; r < rows; r++) for (let i = 0, j = dst.offset + r * rowStride; i < n; i++, j += step) data[j] = vals[o++];
    return;
  }
  forEachRow(dst.shape, [dst.strides], [dst.offset], (o, offs, len, inner) => {
    const s = inner[0];
    let j = offs[0];
    if (enc) for (let i = 0; i < len; i++, j += s) data[j] = enc(vals[o + i]);
    else if (cast) for (let i = 0; i < len; i++, j += s) data[j] = cast(vals[o + i]);
    else if (s === 1 && len > 8)
      data.set(vals.subarray(o, o + len) as never, j); // memcpy for unit-stride rows
    else for (let i = 0; i < len; i++, j += s) data[j] = vals[o + i];
  });
}

// --- unary -----------------------------------------------------------------------------------

function unaryRow(op: UnaryOp, out: DataArray, o: number, a: DataArray, j: number, s: number, n: number, at: UnaryAttrs): void {
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++, j += s) out[o + i] = -a[j];
      return;
    case "abs":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.abs(a[j]);
      return;
    case "sign":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.sign(a[j]);
      return;
    case "exp":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.exp(a[j]);
      return;
    case "expm1":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.expm1(a[j]);
      return;
    case "log":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.log(a[j]);
      return;
    case "log1p":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.log1p(a[j]);
      return;
    case "sqrt":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.sqrt(a[j]);
      return;
    case "rsqrt":
      for (let i = 0; i < n; i++, j += s) out[o + i] = 1 / Math.sqrt(a[j]);
      return;
    case "square":
      for (let i = 0; i < n; i++, j += s) out[o + i] = a[j] * a[j];
      return;
    case "reciprocal":
      for (let i = 0; i < n; i++, j += s) out[o + i] = 1 / a[j];
      return;
    case "tanh":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.tanh(a[j]);
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++, j += s) out[o + i] = 1 / (1 + Math.exp(-a[j]));
      return;
    case "relu":
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        out[o + i] = v > 0 ? v : v === v ? 0 : v;
      }
      return;
    case "gelu":
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        out[o + i] = 0.5 * v * (1 + erf(v * SQRT1_2));
      }
      return;
    case "gelu_tanh":
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        out[o + i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
      return;
    case "silu":
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        out[o + i] = v / (1 + Math.exp(-v));
      }
      return;
    case "softplus": {
      // PyTorch: x if beta*x > threshold else log1p(exp(beta*x)) / beta
      const beta = at.beta ?? 1;
      const th = at.threshold ?? 20;
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j] * beta;
        out[o + i] = v > th ? a[j] : Math.log1p(Math.exp(v)) / beta;
      }
      return;
    }
    case "elu": {
      const alpha = at.alpha ?? 1;
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        out[o + i] = v > 0 ? v : alpha * Math.expm1(v);
      }
      return;
    }
    case "erf":
      for (let i = 0; i < n; i++, j += s) out[o + i] = erf(a[j]);
      return;
    case "sin":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.sin(a[j]);
      return;
    case "cos":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.cos(a[j]);
      return;
    case "floor":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.floor(a[j]);
      return;
    case "ceil":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.ceil(a[j]);
      return;
    case "round":
      for (let i = 0; i < n; i++, j += s) out[o + i] = roundHalfEven(a[j]);
      return;
    case "trunc":
      for (let i = 0; i < n; i++, j += s) out[o + i] = Math.trunc(a[j]);
      return;
    case "clamp": {
      const lo = at.min ?? -Infinity;
      const hi = at.max ?? Infinity;
      for (let i = 0; i < n; i++, j += s) {
        const v = a[j];
        out[o + i] = v < lo ? lo : v > hi ? hi : v;
      }
      return;
    }
    case "not":
      for (let i = 0; i < n; i++, j += s) out[o + i] = a[j] === 0 ? 1 : 0;
      return;
    case "isnan":
      for (let i = 0; i < n; i++, j += s) out[o + i] = a[j] !== a[j] ? 1 : 0;
      return;
    case "isinf":
      for (let i = 0; i < n; i++, j += s) out[o + i] = a[j] === Infinity || a[j] === -Infinity ? 1 : 0;
      return;
    default: {
      const missing: never = op; // a new entry of UNARY_OPS needs a case here
      throw new Error(`cpu unary: no kernel for '${String(missing)}'`);
    }
  }
}

export function unary(op: UnaryOp, x: CpuView, outDtype: DType, attrs: UnaryAttrs = {}): StorageArray {
  const n = sizeOf(x.shape);
  // A registered float32 kernel (@tessera/native) first: contiguous float32 in and out.
  if (n >= WASM_MIN_ELEMS && x.dtype === "float32" && outDtype === "float32" && isContiguous(x.shape, x.strides)) {
    const k = registeredCpuKernel<CpuElementwiseKernel>(CPU_ELEMENTWISE);
    const out = k ? viaRegistered(n, (o) => k.unary(op, (x.data as Float32Array).subarray(x.offset, x.offset + n), o)) : null;
    if (out) return out;
  }
  const code = (WASM_UNARY as Record<string, number>)[op];
  if (code !== undefined && isFloat(x.dtype) && n >= WASM_MIN_ELEMS && isContiguous(x.shape, x.strides)) {
    const k = wasmKernels();
    if (k) {
      const v = contiguousValues(x);
      const out = computeArray(outDtype, n) as Float32Array;
      if (wasmFits(() => k.unary(code, v instanceof Float32Array ? v : Float32Array.from(v), n, out))) return toStorage(outDtype, out);
    }
  }
  const src = operand(x);
  const out = computeArray(outDtype, sizeOf(x.shape));
  forEachRow(x.shape, [src.strides], [src.offset], (o, offs, n, inner) => unaryRow(op, out, o, src.arr, offs[0], inner[0], n, attrs));
  return toStorage(outDtype, out);
}

// --- binary ----------------------------------------------------------------------------------

function binaryRow(op: BinaryOp, out: DataArray, o: number, a: DataArray, j: number, sa: number, b: DataArray, k: number, sb: number, n: number): void {
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] + b[k];
      return;
    case "sub":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] - b[k];
      return;
    case "mul":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] * b[k];
      return;
    case "div":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] / b[k];
      return;
    case "pow":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = Math.pow(a[j], b[k]);
      return;
    case "maximum":
      for (let i = 0; i < n; i++, j += sa, k += sb) {
        const x = a[j],
          y = b[k];
        out[o + i] = x !== x || y !== y ? NaN : x > y ? x : y;
      }
      return;
    case "minimum":
      for (let i = 0; i < n; i++, j += sa, k += sb) {
        const x = a[j],
          y = b[k];
        out[o + i] = x !== x || y !== y ? NaN : x < y ? x : y;
      }
      return;
    case "mod":
      // torch.remainder: the result takes the divisor's sign (Python's %).
      for (let i = 0; i < n; i++, j += sa, k += sb) {
        const x = a[j],
          y = b[k];
        const r = x % y;
        out[o + i] = r !== 0 && r < 0 !== y < 0 ? r + y : r;
      }
      return;
    case "atan2":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = Math.atan2(a[j], b[k]);
      return;
    case "eq":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] === b[k] ? 1 : 0;
      return;
    case "ne":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] !== b[k] ? 1 : 0;
      return;
    case "lt":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] < b[k] ? 1 : 0;
      return;
    case "le":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] <= b[k] ? 1 : 0;
      return;
    case "gt":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] > b[k] ? 1 : 0;
      return;
    case "ge":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] >= b[k] ? 1 : 0;
      return;
    case "and":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] !== 0 && b[k] !== 0 ? 1 : 0;
      return;
    case "or":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = a[j] !== 0 || b[k] !== 0 ? 1 : 0;
      return;
    case "xor":
      for (let i = 0; i < n; i++, j += sa, k += sb) out[o + i] = (a[j] !== 0) !== (b[k] !== 0) ? 1 : 0;
      return;
  }
}

/**
 * The span of b's storage that b (broadcast to a's shape) repeats: b is contiguous over its
 * trailing dims and stride 0 over the leading ones (a bias row, or b the same size as a). Null
 * for other layouts.
 */
function repeatedBlock(b: CpuView): Float32Array | null {
  let d = b.shape.length;
  let run = 1;
  while (d > 0 && (b.strides[d - 1] === run || b.shape[d - 1] === 1)) run *= b.shape[--d];
  for (let i = 0; i < d; i++) if (b.strides[i] !== 0 && b.shape[i] !== 1) return null;
  return (b.data as Float32Array).subarray(b.offset, b.offset + run);
}

/** A registered float32 element-wise kernel's binary op, or null when there is none or it declined. */
function registeredBinary(op: BinaryOp, a: CpuView, b: CpuView, outDtype: DType, n: number): Float32Array | null {
  if (n < WASM_MIN_ELEMS || a.dtype !== "float32" || b.dtype !== "float32" || outDtype !== "float32" || !isContiguous(a.shape, a.strides)) return null;
  if (!(a.data instanceof Float32Array && b.data instanceof Float32Array)) return null;
  const block = repeatedBlock(b);
  const k = block && block.length > 0 ? registeredCpuKernel<CpuElementwiseKernel>(CPU_ELEMENTWISE) : undefined;
  if (!k || !block) return null;
  const data = a.data;
  return viaRegistered(n, (out) => k.binary(op, data.subarray(a.offset, a.offset + n), block, out));
}

/** A pooled float32 output of n values filled by a registered kernel, or null (the array back in the pool) when it declined. */
export function binary(op: BinaryOp, a: CpuView, b: CpuView, outDtype: DType): StorageArray {
  const viaKernel = registeredBinary(op, a, b, outDtype, sizeOf(a.shape));
  if (viaKernel) return viaKernel;
  const A = operand(a);
  const B = operand(b);
  const out = computeArray(outDtype, sizeOf(a.shape));
  // Integer division and powers with negative exponents would silently truncate: the op layer
  // sends those to float. Integer add/mul wrap as the storage type does. An integer remainder
  // by zero is an error, as PyTorch's ZeroDivisionError (floats give NaN).
  if (op === "mod" && !isFloat(outDtype)) {
    forEachRow(a.shape, [B.strides], [B.offset], (_o, offs, n, inner) => {
      for (let i = 0, k = offs[0]; i < n; i++, k += inner[0])
        if (B.arr[k] === 0) fail("mod", `integer remainder by zero: divisor b [${b.shape.join(",")}] ${b.dtype} holds 0 (cast to float for NaN)`);
    });
  }
  forEachRow(a.shape, [A.strides, B.strides], [A.offset, B.offset], (o, offs, n, inner) => binaryRow(op, out, o, A.arr, offs[0], inner[0], B.arr, offs[1], inner[1], n));
  return toStorage(outDtype, out);
}

export function where(cond: CpuView, a: CpuView, b: CpuView): StorageArray {
  const C = operand(cond);
  const A = operand(a);
  const B = operand(b);
  const out = computeArray(a.dtype, sizeOf(a.shape));
  forEachRow(a.shape, [C.strides, A.strides, B.strides], [C.offset, A.offset, B.offset], (o, offs, n, inner) => {
    let c = offs[0],
      j = offs[1],
      k = offs[2];
    const [sc, sa, sb] = inner;
    for (let i = 0; i < n; i++, c += sc, j += sa, k += sb) out[o + i] = C.arr[c] !== 0 ? A.arr[j] : B.arr[k];
  });
  return toStorage(a.dtype, out);
}

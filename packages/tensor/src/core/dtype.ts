/**
 * Data types. float16 and bfloat16 are storage types: kernels compute in float32 and round
 * the result back (round-to-nearest-even), as PyTorch does on CPU.
 */
export type DType = "float32" | "float16" | "bfloat16" | "int32" | "int8" | "uint8" | "bool";

export const DTYPES: readonly DType[] = ["float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool"];

/** The typed array that holds a dtype's raw storage bits. */
export type StorageArray = Float32Array | Uint16Array | Int32Array | Int8Array | Uint8Array;

/** What `data()` returns: half types are widened to float32. */
export type DataArray = Float32Array | Int32Array | Int8Array | Uint8Array;

/**
 * The typed array `data(dtype)` / `dataSync(dtype)` return for a dtype: Float32Array for the
 * float types (float16/bfloat16 widened), Int32Array, Int8Array, Uint8Array (uint8 and bool).
 */
export type DataArrayOf<D extends DType> = D extends "float32" | "float16" | "bfloat16" ? Float32Array : D extends "int32" ? Int32Array : D extends "int8" ? Int8Array : Uint8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && (DTYPES as readonly string[]).includes(x);
}

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
}

export function isHalf(dtype: DType): boolean {
  return dtype === "float16" || dtype === "bfloat16";
}

export function isInt(dtype: DType): boolean {
  return dtype === "int32" || dtype === "int8" || dtype === "uint8";
}

/** Allocates zeroed storage for `size` elements of `dtype`. */
export function allocStorage(dtype: DType, size: number): StorageArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float16":
    case "bfloat16":
      return new Uint16Array(size);
    case "int32":
      return new Int32Array(size);
    case "int8":
      return new Int8Array(size);
    case "uint8":
    case "bool":
      return new Uint8Array(size);
  }
}

/** Allocates the compute array for a dtype: halves compute in float32. */
export function allocCompute(dtype: DType, size: number): DataArray {
  return isHalf(dtype) ? new Float32Array(size) : (allocStorage(dtype, size) as DataArray);
}

/** Whether a typed array is the storage array type of `dtype`. */
export function storageMatches(dtype: DType, arr: ArrayBufferView): boolean {
  switch (dtype) {
    case "float32":
      return arr instanceof Float32Array;
    case "float16":
    case "bfloat16":
      return arr instanceof Uint16Array;
    case "int32":
      return arr instanceof Int32Array;
    case "int8":
      return arr instanceof Int8Array;
    case "uint8":
    case "bool":
      return arr instanceof Uint8Array;
  }
}

/**
 * Type promotion for binary ops (PyTorch's rules restricted to our dtypes):
 * bool < integers < floats; two different 16-bit floats promote to float32;
 * two different integer types promote to int32.
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === "bool") return b;
  if (b === "bool") return a;
  const fa = isFloat(a);
  const fb = isFloat(b);
  if (fa && !fb) return a;
  if (fb && !fa) return b;
  if (fa && fb) return "float32";
  return "int32";
}

/** The dtype a JS number takes when it meets a tensor of `other` dtype (a "weak" scalar). */
export function scalarDType(value: number, other: DType): DType {
  if (isFloat(other)) return other;
  if (Number.isInteger(value)) return other === "bool" ? (value === 0 || value === 1 ? "bool" : "int32") : other;
  return "float32";
}

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16 bit conversions (IEEE 754 binary16; bfloat16 = top half of binary32).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> binary16 bits with round-to-nearest-even, overflow to inf, NaN preserved. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into exponent: correct
  return sign | half;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 -> bfloat16 bits with round-to-nearest-even, NaN kept quiet. */
export function f32ToBf16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((x >>> 16) & 1);
  return ((x + rounding) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Decodes half storage into a float32 array. */
export function halfToF32(dtype: "float16" | "bfloat16", src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  if (dtype === "bfloat16") {
    const o32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  }
  return out;
}

/** Encodes float values into half storage. */
export function f32ToHalf(dtype: "float16" | "bfloat16", src: ArrayLike<number>, out: Uint16Array<ArrayBufferLike> = new Uint16Array(src.length)): Uint16Array<ArrayBufferLike> {
  const conv = dtype === "bfloat16" ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < src.length; i++) out[i] = conv(src[i]);
  return out;
}

/** Rounds a float to what `dtype` can hold (identity for float32 after fround). */
export function roundTo(dtype: DType, value: number): number {
  switch (dtype) {
    case "float32":
      return Math.fround(value);
    case "float16":
      return f16BitsToF32(f32ToF16Bits(value));
    case "bfloat16":
      return bf16BitsToF32(f32ToBf16Bits(value));
    case "bool":
      return value ? 1 : 0;
    default:
      return value;
  }
}

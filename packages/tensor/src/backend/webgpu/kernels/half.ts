/**
 * Half-precision storage on WebGPU: float16 and bfloat16 tensors live two elements per 32-bit
 * word, element 2k in the low 16 bits of word k (the byte layout of a little-endian Uint16Array,
 * so uploads and reads are plain byte copies). Only core WGSL is used: no adapter needs
 * `shader-f16` (the H100's Dawn adapter and SwiftShader both lack it), and math stays f32 as on
 * the cpu backend (f16 and bf16 are storage formats: every result is rounded, ties to even,
 * when it is stored).
 *
 * The general kernels work on "wide" buffers (one f32 word per element, values already rounded
 * to the half format). These kernels move between the two layouts:
 * - `unpack`: a strided view of packed halves -> contiguous wide words (also float32 storage);
 * - `pack`: a strided view of any dtype -> contiguous packed halves of `dtype` (rounding);
 * - `writePacked`: a strided view into a packed destination (two invocations may share a word,
 *   so each clears and sets its own 16 bits with atomics; disjoint bits make the order moot).
 */
import { isHalf, type DType } from "../../../core/dtype";
import { sizeOf } from "../../../core/shape";
import { WG, type GpuContext, type GpuData } from "../context";
import { convert, offsetFn, shader, store, wordOf } from "../wgsl";
import { layout, type GpuView } from "./elementwise";

/** 32-bit words holding `n` elements of `dtype` on this backend. */
export function wordsFor(dtype: DType, n: number): number {
  return isHalf(dtype) ? Math.ceil(n / 2) : n;
}

/** Bit conversions between f32 values (already rounded to the format) and 16-bit patterns. */
export const HALF_FNS = /* wgsl */ `
fn f16_value(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) / 16777216.0)); } // m * 2^-24, exact
  if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}
// x must hold a binary16 value (see round_f16); NaN becomes the quiet NaN 0x7e00, sign kept.
fn f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let s = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return s | 0x7e00u; }
  if (a >= 0x47800000u) { return s | 0x7c00u; }
  if (a < 0x38800000u) { return s | u32(abs(x) * 16777216.0); } // subnormal half: exact
  return s | ((a - 0x38000000u) >> 13u);
}
fn bf16_value(h: u32) -> f32 { return bitcast<f32>(h << 16u); }
// x must hold a bfloat16 value (see round_bf16); NaN is kept quiet as the cpu does.
fn bf16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if (isnan_(x)) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return b >> 16u;
}
// The 16 bits of element e in a packed buffer, given the word that holds it.
fn half_of(word: u32, e: u32) -> u32 { return (word >> ((e & 1u) * 16u)) & 0xffffu; }
`;

function prefix(dtype: DType): "f16" | "bf16" {
  return dtype === "bfloat16" ? "bf16" : "f16";
}

/** WGSL `fn ld_<name>(e: u32) -> f32`: element e (a storage index) of packed binding `name`. */
export function packedLoadFn(name: string, dtype: DType): string {
  return `fn ld_${name}(e: u32) -> f32 { return ${prefix(dtype)}_value(half_of(${name}[e >> 1u], e)); }`;
}

/**
 * The 16-bit pattern of element `e` (an index into binding `x`) as `to` stores it: raw bits when
 * `x` is packed `to` already (NaN payloads survive, as a cpu copy), else the value converted,
 * rounded and encoded.
 */
function bitsExpr(x: GpuView, to: DType, e: string): string {
  if (x.dtype === to) return `half_of(xs[(${e}) >> 1u], ${e})`;
  const value = isHalf(x.dtype) ? `ld_xs(${e})` : convert(`xs[${e}]`, wordOf(x.dtype), "f32");
  return `${prefix(to)}_bits(${store(value, to)})`;
}

function sourceFns(x: GpuView): string[] {
  return isHalf(x.dtype) ? [HALF_FNS, packedLoadFn("xs", x.dtype)] : [HALF_FNS];
}

function sourceWord(x: GpuView): "f32" | "i32" | "u32" {
  return isHalf(x.dtype) ? "u32" : wordOf(x.dtype);
}

/** Packed halves of a strided view -> contiguous wide f32 words (exact: every half is an f32). */
export function unpack(ctx: GpuContext, x: GpuView): GpuData {
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n);
  const { prm, rank, at } = layout(x.shape, [x]);
  const [sh, st, of] = at(0);
  const code = shader({
    bindings: [
      { name: "out", word: "f32", write: true },
      { name: "xs", word: "u32" },
    ],
    fns: [...sourceFns(x), offsetFn("x", rank, sh, st, of)],
    body: `  if (i >= prm[0]) { return; }\n  out[i] = ld_xs(off_x(i));`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], Math.ceil(n / WG));
  return out;
}

/** A strided view of any dtype (packed if half) -> contiguous packed `dtype` (float16 or bfloat16). */
export function pack(ctx: GpuContext, x: GpuView, dtype: DType): GpuData {
  const n = sizeOf(x.shape);
  const words = wordsFor(dtype, n);
  const out = ctx.alloc(words);
  const { prm, rank, at } = layout(x.shape, [x]);
  const [sh, st, of] = at(0);
  // Invocation k writes word k: elements 2k and 2k + 1 (the second absent when n is odd).
  const code = shader({
    bindings: [
      { name: "out", word: "u32", write: true },
      { name: "xs", word: sourceWord(x) },
    ],
    fns: [...sourceFns(x), offsetFn("x", rank, sh, st, of)],
    body: `  let n = prm[0];
  if (2u * i >= n) { return; }
  let lo = ${bitsExpr(x, dtype, "off_x(2u * i)")};
  var hi = 0u;
  if (2u * i + 1u < n) { hi = ${bitsExpr(x, dtype, "off_x(2u * i + 1u)")}; }
  out[i] = lo | (hi << 16u);`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], Math.ceil(words / WG));
  return out;
}

/** Wide words of a half dtype (a general kernel's output) -> packed storage; frees the wide buffer. */
export function narrow(ctx: GpuContext, wide: GpuData, dtype: DType, n: number): GpuData {
  const view: GpuView = { data: wide, dtype: "float32", shape: [n], strides: [1], offset: 0 };
  try {
    return pack(ctx, view, dtype);
  } finally {
    ctx.release(wide);
  }
}

/** Writes `src` (any dtype, packed if half) into the strided view `dst` of packed halves. */
export function writePacked(ctx: GpuContext, dst: GpuView, src: GpuView): void {
  const n = sizeOf(dst.shape);
  const { prm, rank, at } = layout(dst.shape, [dst, src]);
  const [sh, sd, od] = at(0);
  const [, ss, os] = at(1);
  const code = shader({
    bindings: [
      { name: "dst", word: "atomic<u32>", write: true },
      { name: "xs", word: sourceWord(src) },
    ],
    fns: [...sourceFns(src), offsetFn("dst", rank, sh, sd, od), offsetFn("src", rank, sh, ss, os)],
    body: `  if (i >= prm[0]) { return; }
  let e = off_dst(i);
  let shift = (e & 1u) * 16u;
  let bits = ${bitsExpr(src, dst.dtype, "off_src(i)")};
  atomicAnd(&dst[e >> 1u], ~(0xffffu << shift));
  atomicOr(&dst[e >> 1u], bits << shift);`,
  });
  ctx.dispatch(code, [dst.data.buffer, src.data.buffer, ctx.meta(prm)], Math.ceil(n / WG));
}

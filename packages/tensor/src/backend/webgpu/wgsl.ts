/**
 * WGSL building blocks shared by the kernels. Every GPU buffer holds 32-bit words: f32 for
 * float32/float16/bfloat16 (half values are rounded to their format on every store, so they
 * are exactly what cpu storage would hold) and i32 for int32/int8/uint8/bool (wrapped to
 * their range on store).
 */
import { isFloat, type DType } from "../../core/dtype";

export type Word = "f32" | "i32";

export function wordOf(dtype: DType): Word {
  return isFloat(dtype) ? "f32" : "i32";
}

/** Converts an expression of word type `from` to word type `to` (float -> int truncates; non-finite -> 0). */
export function convert(expr: string, from: Word, to: Word): string {
  if (from === to) return expr;
  if (to === "f32") return `f32(${expr})`;
  return `f2i(${expr})`;
}

/** Wraps a value computed in `word` arithmetic into what `dtype` stores (rounding halves, wrapping ints). */
export function store(expr: string, dtype: DType): string {
  switch (dtype) {
    case "float16":
      return `round_f16(${expr})`;
    case "bfloat16":
      return `round_bf16(${expr})`;
    case "int8":
      return `((${expr}) << 24u) >> 24u`;
    case "uint8":
      return `(${expr}) & 255`;
    case "bool":
      return `select(0, 1, (${expr}) != 0)`;
    default:
      return expr;
  }
}

/** Common functions, prepended to every shader (WGSL drops what is unused). */
export const PRELUDE = /* wgsl */ `
// WGSL rejects NaN and infinity in constant expressions: read their bits at run time.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn nan_() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf_() -> f32 { return bitcast<f32>(INF_BITS); }

// WGSL lets compilers assume floats are never NaN or infinite (x != x may fold to false), so
// these tests look at the bits.
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinf__(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn nonzero(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) != 0u; }

// sin/cos with Cody-Waite reduction by pi/2 and minimax polynomials on [-pi/4, pi/4] (the
// builtins only promise 2^-11 absolute error, and only inside [-pi, pi]).
fn sincos_poly(r: f32, q: i32) -> f32 {
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  let m = q & 3;
  if (m == 0) { return s; }
  if (m == 1) { return c; }
  if (m == 2) { return -s; }
  return -c;
}
fn reduce_half_pi(x: f32) -> vec2<f32> {
  let k = round(x * 0.63661977236758134);
  let r = ((x - k * 1.5703125) - k * 4.8351287841796875e-4) - k * 3.1385570e-7;
  return vec2<f32>(r, k);
}
fn sin_(x: f32) -> f32 { let rk = reduce_half_pi(x); return sincos_poly(rk.x, i32(rk.y)); }
fn cos_(x: f32) -> f32 { let rk = reduce_half_pi(x); return sincos_poly(rk.x, i32(rk.y) + 1); }

// float -> int: truncate toward zero; NaN and out-of-range values give 0 (as the cpu backend).
fn f2i(x: f32) -> i32 {
  if (!(abs(x) < 2147483520.0)) { return 0; }
  return i32(trunc(x));
}

// Round an f32 to the nearest binary16 value, ties to even (returned as f32).
fn round_f16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  let sign = b & 0x80000000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return x; }
  if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); }
  if (a < 0x38800000u) {
    let q = round(abs(x) * 16777216.0);
    return bitcast<f32>(sign | bitcast<u32>(q / 16777216.0));
  }
  let lsb = (a >> 13u) & 1u;
  return bitcast<f32>(sign | ((a + 0xfffu + lsb) & 0xffffe000u));
}

// Round an f32 to the nearest bfloat16 value, ties to even.
fn round_bf16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7f800000u) == 0x7f800000u) { return x; }
  return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}

fn tanh_(x: f32) -> f32 {
  // tanh via exp of a negative argument only (no overflow to inf/inf).
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

fn expm1_(x: f32) -> f32 {
  if (abs(x) < 1e-5) { return x + 0.5 * x * x; }
  return exp(x) - 1.0;
}

fn log1p_(x: f32) -> f32 {
  // Kahan: log(u) * x / (u - 1) with u = 1 + x corrects the rounding of 1 + x.
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * x / (u - 1.0);
}

fn sigmoid_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

// erf from fdlibm's rational approximations (see backend/cpu/math.ts), in f32.
fn erf_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  let ax = abs(x);
  let s = sign(x);
  if (ax < 0.84375) {
    let z = x * x;
    let r = 1.28379167095512558561e-1 + z * (-3.25042107247001499370e-1 + z * (-2.84817495755985104766e-2 + z * (-5.77027029648944159157e-3 + z * -2.37630166566501626084e-5)));
    let q = 1.0 + z * (3.97917223959155352819e-1 + z * (6.50222499887672944485e-2 + z * (5.08130628187576562776e-3 + z * (1.32494738004321644526e-4 + z * -3.96022827877536812320e-6))));
    return x + x * (r / q);
  }
  if (ax < 1.25) {
    let t = ax - 1.0;
    let p = -2.36211856075265944077e-3 + t * (4.14856118683748331666e-1 + t * (-3.72207876035701323847e-1 + t * (3.18346619901161753674e-1 + t * (-1.10894694282396677476e-1 + t * (3.54783043256182359371e-2 + t * -2.16637559486879084300e-3)))));
    let q = 1.0 + t * (1.06420880400844228286e-1 + t * (5.40397917702171048937e-1 + t * (7.18286544141962662868e-2 + t * (1.26171219808761642112e-1 + t * (1.36370839120290507362e-2 + t * 1.19844998467991074170e-2)))));
    return s * (8.45062911510467529297e-1 + p / q);
  }
  if (ax >= 6.0) { return s; }
  let w = 1.0 / (ax * ax);
  var rr: f32;
  var ss: f32;
  if (ax < 2.857142857) {
    rr = -9.86494403484714822705e-3 + w * (-6.93858572707181764372e-1 + w * (-1.05586262253232909814e1 + w * (-6.23753324503260060396e1 + w * (-1.62396669462573470355e2 + w * (-1.84605092906711035994e2 + w * (-8.12874355063065934246e1 + w * -9.81432934416914548592))))));
    ss = 1.0 + w * (1.96512716674392571292e1 + w * (1.37657754143519042600e2 + w * (4.34565877475229228821e2 + w * (6.45387271733267880336e2 + w * (4.29008140027567833386e2 + w * (1.08635005541779435134e2 + w * (6.57024977031928170135 + w * -6.04244152148580987438e-2)))))));
  } else {
    rr = -9.86494292470009928597e-3 + w * (-7.99283237680523006574e-1 + w * (-1.77579549177547519889e1 + w * (-1.60636384855821916062e2 + w * (-6.37566443368389627722e2 + w * (-1.02509513161107724954e3 + w * -4.83519191608651397019e2)))));
    ss = 1.0 + w * (3.03380607434824582924e1 + w * (3.25792512996573918826e2 + w * (1.53672958608443695994e3 + w * (3.19985821950859553908e3 + w * (2.55305040643316442583e3 + w * (4.74528541206955367215e2 + w * -2.24409524465858183362e1))))));
  }
  let r = exp(-ax * ax - 0.5625 + rr / ss);
  return s * (1.0 - r / ax);
}

fn round_even(x: f32) -> f32 { return round(x); } // WGSL round() ties to even, as torch.round
`;

/**
 * The linear index of this invocation for 1-D work spread over a 2-D grid of workgroups
 * (more than 65535 workgroups need a second dimension).
 */
export const LINEAR_INDEX = /* wgsl */ `
fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}
`;

/**
 * Generates `fn off_<name>(i: u32) -> u32`: the element offset of row-major index i of `shape`
 * in a view whose shape dims and strides are read from the params buffer `prm` at the given
 * positions (`offsetAt` null: no base offset).
 */
export function offsetFn(name: string, rank: number, shapeAt: string, stridesAt: string, offsetAt: string | null): string {
  const base = offsetAt === null ? "0u" : `prm[${offsetAt}]`;
  if (rank === 0) return `fn off_${name}(i: u32) -> u32 { return ${base}; }`;
  const lines = [`fn off_${name}(i: u32) -> u32 {`, `  var rem = i;`, `  var o = ${base};`];
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  { let s = prm[${shapeAt} + ${d}u]; o += (rem % s) * prm[${stridesAt} + ${d}u]; rem = rem / s; }`);
  }
  lines.push("  return o;", "}");
  return lines.join("\n");
}

export interface Binding {
  name: string;
  word: Word | "u32" | "atomic<u32>" | "atomic<i32>";
  write?: boolean;
}

/**
 * A compute shader: storage bindings in order, then `prm` (u32 params) as the last binding,
 * the prelude, helper functions and a `main` whose body sees `i` (linear invocation index),
 * `lid` and `wid`.
 */
export function shader(opts: { bindings: Binding[]; fns?: string[]; body: string; wg?: number; shared?: string }): string {
  const wg = opts.wg ?? 256;
  const binds = opts.bindings.map((b, k) => `@group(0) @binding(${k}) var<storage, ${b.write ? "read_write" : "read"}> ${b.name}: array<${b.word}>;`);
  binds.push(`@group(0) @binding(${opts.bindings.length}) var<storage, read> prm: array<u32>;`);
  return [
    `const WG: u32 = ${wg}u;`,
    ...binds,
    opts.shared ?? "",
    PRELUDE,
    LINEAR_INDEX,
    ...(opts.fns ?? []),
    `@compute @workgroup_size(${wg})`,
    `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`,
    `  let i = linear_index(wid, nwg, lid);`,
    opts.body,
    `}`,
  ].join("\n");
}

/** f32 bits for the params buffer. */
export function f32bits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}

// Matrix-vector kernels over a half-precision weight (float16 or bfloat16 bits, `bf` picks),
// for decoding with a weight stored in half (castModel): the weight streams at 2 bytes an
// element and is widened in registers; x, y and the arithmetic are f32. Same layouts and
// thread split as gemv.ts:
//   gemv_n_h: y[j0:j1] = x[0:K] B[0:K, j0:j1]   B [K, N] row-major halves
//   gemv_t_h: y[n0:n1] = W[n0:n1, 0:K] x[0:K]   W [N, K] row-major halves
import { madd4 } from "./vmath";

// binary16 bits in u32 lanes -> f32: (bits & 0x7fff) << 13 is the value scaled by 2^-112 for
// normals and subnormals alike (a subnormal half lands on an f32 subnormal, exact), so one
// multiply by 2^112 finishes both; inf / NaN (exponent 31) get an all-ones exponent instead.
// @ts-ignore: decorator
@inline
function f16x4(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const shifted = i32x4.shl(em, 13);
  const finite = f32x4.mul(shifted, f32x4.splat(5.192296858534828e33));
  const special = v128.or(shifted, i32x4.splat(0x7f800000));
  return v128.or(v128.bitselect(special, finite, i32x4.gt_s(em, i32x4.splat(0x7bff))), sign);
}

// Half bits in u32 lanes -> f32 (bfloat16: the top half of an f32).
// @ts-ignore: decorator
@inline
function halfx4(h: v128, bf: i32): v128 {
  return bf ? i32x4.shl(h, 16) : f16x4(h);
}

// @ts-ignore: decorator
@inline
function half1(bits: u32, bf: i32): f32 {
  return f32x4.extract_lane(halfx4(i32x4.splat(bits), bf), 0);
}

// Whether 8 float16 lanes hold an inf or NaN (exponent 31): those take f16x4's exact path.
// @ts-ignore: decorator
@inline
function special8(h8: v128, bf: i32): bool {
  return !bf && v128.any_true(i16x8.gt_s(v128.and(h8, i16x8.splat(0x7fff)), i16x8.splat(0x7bff)));
}

// Lanes 0-3 (lo) or 4-7 of 8 half lanes as f32. The finite float16 path is 4 operations: the
// sign-extended lane shifted left by 13 holds the sign in bits 28-31 and exponent + mantissa in
// 13-27; masking bits 28-30 leaves sign | em << 13, which 2^112 rescales (as in f16x4).
// @ts-ignore: decorator
@inline
function widen(h8: v128, lo: bool, bf: i32, special: bool): v128 {
  if (bf) return i32x4.shl(lo ? i32x4.extend_low_i16x8_u(h8) : i32x4.extend_high_i16x8_u(h8), 16);
  if (special) return f16x4(lo ? i32x4.extend_low_i16x8_u(h8) : i32x4.extend_high_i16x8_u(h8));
  const s = i32x4.shl(lo ? i32x4.extend_low_i16x8_s(h8) : i32x4.extend_high_i16x8_s(h8), 13);
  return f32x4.mul(v128.and(s, i32x4.splat(0x8fffe000)), f32x4.splat(5.192296858534828e33));
}

/** y[n] = W[n, :] . x for n in [n0, n1): 16 halves (two loads) per step, four f32x4 sums. */
export function gemv_t_h(x: usize, w: usize, y: usize, K: i32, n0: i32, n1: i32, bf: i32): void {
  const k16 = K & ~15;
  for (let n = n0; n < n1; n++) {
    const row = w + (<usize>n * K << 1);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let k = 0;
    for (; k < k16; k += 16) {
      const h0 = v128.load(row + (<usize>k << 1));
      const h1 = v128.load(row + (<usize>k << 1), 16);
      const o = <usize>k << 2;
      const sp0 = special8(h0, bf);
      const sp1 = special8(h1, bf);
      s0 = madd4(widen(h0, true, bf, sp0), v128.load(x + o), s0);
      s1 = madd4(widen(h0, false, bf, sp0), v128.load(x + o, 16), s1);
      s2 = madd4(widen(h1, true, bf, sp1), v128.load(x + o, 32), s2);
      s3 = madd4(widen(h1, false, bf, sp1), v128.load(x + o, 48), s3);
    }
    const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    let acc = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    for (; k < K; k++) acc += half1(load<u16>(row + (<usize>k << 1)), bf) * load<f32>(x + (<usize>k << 2));
    store<f32>(y + (<usize>n << 2), acc);
  }
}

/**
 * y[j0:j1] = sum_k x[k] B[k, j0:j1]; y is zeroed first. Two rows of B per pass over y, eight
 * outputs (one 16-byte load of halves per row) per step.
 */
export function gemv_n_h(x: usize, b: usize, y: usize, K: i32, N: i32, j0: i32, j1: i32, bf: i32): void {
  memory.fill(y + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
  const j8 = j0 + ((j1 - j0) & ~7);
  const ld = <usize>N << 1;
  let k = 0;
  for (; k + 2 <= K; k += 2) {
    const a0 = f32x4.splat(load<f32>(x + (<usize>k << 2)));
    const a1 = f32x4.splat(load<f32>(x + (<usize>k << 2), 4));
    const r0 = b + (<usize>k * N << 1);
    for (let j = j0; j < j8; j += 8) {
      const h0 = v128.load(r0 + (<usize>j << 1));
      const h1 = v128.load(r0 + ld + (<usize>j << 1));
      const o = y + (<usize>j << 2);
      let lo = v128.load(o);
      let hi = v128.load(o, 16);
      const sp0 = special8(h0, bf);
      const sp1 = special8(h1, bf);
      lo = madd4(a0, widen(h0, true, bf, sp0), lo);
      hi = madd4(a0, widen(h0, false, bf, sp0), hi);
      lo = madd4(a1, widen(h1, true, bf, sp1), lo);
      hi = madd4(a1, widen(h1, false, bf, sp1), hi);
      v128.store(o, lo);
      v128.store(o, hi, 16);
    }
    for (let j = j8; j < j1; j++) {
      const o = y + (<usize>j << 2);
      let v = load<f32>(o);
      v += f32x4.extract_lane(a0, 0) * half1(load<u16>(r0 + (<usize>j << 1)), bf);
      v += f32x4.extract_lane(a1, 0) * half1(load<u16>(r0 + ld + (<usize>j << 1)), bf);
      store<f32>(o, v);
    }
  }
  for (; k < K; k++) {
    const xk = load<f32>(x + (<usize>k << 2));
    const row = b + (<usize>k * N << 1);
    for (let j = j0; j < j1; j++) {
      const o = y + (<usize>j << 2);
      store<f32>(o, load<f32>(o) + xk * half1(load<u16>(row + (<usize>j << 1)), bf));
    }
  }
}

// Vector math on f32x4 shared by the SIMD kernels (this package's rows.ts and, at build time,
// @tessera/ssm's selective scan and @tessera/attention's flash kernel): exp, erf, horizontal
// reductions and the multiply-add that becomes one fused instruction in relaxed-SIMD builds.

// a * b + c for f32x4. A module built with relaxed SIMD (asc --enable relaxed-simd; loaded where
// wasmFeatures().relaxedSimd) computes it with f32x4.relaxed_madd: fused (one rounding) where
// the hardware has FMA, else a mul and an add; SIMD128 has no FMA: a mul and an add. The branch
// is resolved at compile time.
// @ts-ignore: decorator
@inline
export function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// exp(x) for f32x4 (Cephes expf): n = round(x log2 e), r = x - n ln2 (two-part ln2),
// exp(r) = 1 + r + r^2 P(r), times 2^n built in the exponent bits (as 2^(n>>1) 2^(n-(n>>1)): n
// reaches 128 for x near ln(FLT_MAX), where one factor 2^n would overflow). ~1 ulp; +inf above
// 88.72283 (the largest float whose exp is finite); 0 below -87.3 (no subnormal results).
// @ts-ignore: decorator
@inline
export function exp4(x: v128): v128 {
  const lo = f32x4.splat(-87.33654);
  const under = f32x4.lt(x, lo);
  // pmax/pmin are one x86 instruction each (min/max are NaN-propagating sequences of ~8); in this
  // argument order a NaN x passes through both: pmax(a, b) = a < b ? b : a, pmin(a, b) = b < a ? b : a.
  const xc = f32x4.pmin(f32x4.pmax(x, lo), f32x4.splat(88.72283));
  // n = round-half-even(xc * log2 e) by adding 1.5 * 2^23: the sum's low mantissa bits are n as an
  // integer (|n| <= 128 << 2^22), which replaces nearest + trunc_sat (long sequences on x86).
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(1.44269504088896341)), f32x4.splat(12582912.0));
  const n = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1.0));
  const ni = i32x4.sub(t, i32x4.splat(0x4b400000));
  const nh = i32x4.shr_s(ni, 1);
  const bias = i32x4.splat(127);
  const y = f32x4.mul(f32x4.mul(p, i32x4.shl(i32x4.add(nh, bias), 23)), i32x4.shl(i32x4.add(i32x4.sub(ni, nh), bias), 23));
  // NaN stays NaN; very negative inputs give exactly 0 (as exp underflows); overflow is +inf.
  const over = f32x4.gt(x, f32x4.splat(88.72283));
  return v128.bitselect(f32x4.splat(Infinity), v128.bitselect(f32x4.splat(0), y, under), over);
}

// erf for f32x4 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), odd in x.
// @ts-ignore: decorator
@inline
export function erf4(x: v128): v128 {
  const a = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), f32x4.mul(f32x4.splat(0.3275911), a)));
  let p = f32x4.splat(1.061405429);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.453152027));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.421413741));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.284496736));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.254829592));
  p = f32x4.mul(p, t);
  const y = f32x4.sub(f32x4.splat(1.0), f32x4.mul(p, exp4(f32x4.neg(f32x4.mul(a, a)))));
  // copy the sign of x onto y
  return v128.or(v128.and(y, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
}

// @ts-ignore: decorator
@inline
export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline
export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}


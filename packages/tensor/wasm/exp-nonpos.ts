// exp(x) for x <= 0 (softmax's x - max), as XNNPACK's f32 raddstoreexpminusmax "rr2_p5" kernels
// (each multiply-add is vmath's madd4: one fused f32x4.relaxed_madd in relaxed-SIMD builds):
//   n = round(x log2 e) with the magic bias 1.5 * 2^23 + 127, whose low mantissa bits are n + 127,
//   so shifting them into the exponent field gives s = 2^n directly;
//   t = x - n ln2 (ln2 in two parts), exp(t) = 1 + t p(t) with a degree-5 minimax p;
//   exp(x) = s + (t s) p(t); x below -87.33654 (results below 2^-126) gives exactly 0.
// About 1 ulp on [-87.3, 0]; no overflow handling (x <= 0); NaN stays NaN. Against vmath.ts's
// exp4 it skips the clamp, the two-factor 2^n and the overflow select (~40% fewer instructions).
import { madd4 } from "./vmath";

// @ts-ignore: decorator
@inline
export function exp_nonpos4(x: v128): v128 {
  const magic = f32x4.splat(12583039.0); // 0x1.8000FEp23
  let n = madd4(x, f32x4.splat(1.442695), magic); // log2 e 0x1.715476p+0
  const s = i32x4.shl(n, 23);
  n = f32x4.sub(n, magic);
  let t = madd4(n, f32x4.splat(-0.69314575), x); // -0x1.62E400p-1
  t = madd4(n, f32x4.splat(-0.0000014286068), t); // -0x1.7F7D1Cp-20
  let p = madd4(f32x4.splat(0.008289291), t, f32x4.splat(0.041897822)); // c5 0x1.0F9F9Cp-7, c4 0x1.573A1Ap-5
  p = madd4(p, t, f32x4.splat(0.16667652)); // c3 0x1.555A80p-3
  p = madd4(p, t, f32x4.splat(0.4999915)); // c2 0x1.FFFDC6p-2
  p = madd4(p, t, f32x4.splat(0.9999997)); // c1 0x1.FFFFF6p-1
  t = f32x4.mul(t, s);
  const f = madd4(t, p, s);
  return v128.andnot(f, f32x4.lt(x, f32x4.splat(-87.33654))); // -0x1.5D589Ep6
}

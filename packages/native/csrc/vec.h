/*
 * The vector helpers of the per-instruction-set kernels (kernels.c, attention_kernels.c), written
 * with GCC/Clang vector extensions for VW float lanes: each file including this is compiled once
 * per instruction set with VW and KSUFFIX set (scripts/build-native.mjs), FN(name) naming its copy.
 */
#ifndef TESSERA_VEC_H
#define TESSERA_VEC_H
#include <stddef.h>
#include <string.h>

#ifndef VW
#error "VW (vector width in floats) must be defined"
#endif
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, KSUFFIX)

typedef float vf __attribute__((vector_size(VW * 4)));

static inline vf ld(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }

static inline float hsum(vf v) {
  float s = 0.0f;
  for (int l = 0; l < VW; l++) s += v[l];
  return s;
}

/* dot(x, r) over n floats: VW lanes accumulated along n, summed, then the tail. */
static inline float vdot(const float *x, const float *r, int n) {
  const int nv = n - n % VW;
  vf a = {0};
  for (int k = 0; k < nv; k += VW) a += ld(x + k) * ld(r + k);
  float s = hsum(a);
  for (int k = nv; k < n; k++) s += x[k] * r[k];
  return s;
}

/* out[i] = dot(x, r_i) over n floats for four rows r_i, each loaded vector of x used four times
 * (per row the same order as vdot: the results are vdot's). */
static inline void vdot4(const float *x, const float *r0, const float *r1, const float *r2, const float *r3, int n, float out[4]) {
  const int nv = n - n % VW;
  vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
  for (int k = 0; k < nv; k += VW) {
    const vf xv = ld(x + k);
    a0 += xv * ld(r0 + k);
    a1 += xv * ld(r1 + k);
    a2 += xv * ld(r2 + k);
    a3 += xv * ld(r3 + k);
  }
  out[0] = hsum(a0), out[1] = hsum(a1), out[2] = hsum(a2), out[3] = hsum(a3);
  for (int k = nv; k < n; k++) out[0] += x[k] * r0[k], out[1] += x[k] * r1[k], out[2] += x[k] * r2[k], out[3] += x[k] * r3[k];
}

static inline vf vsplat(float s) { return s - (vf){0}; }
typedef int vi __attribute__((vector_size(VW * 4)));

/* m ? a : b lane by lane, m from a vector comparison (all ones or zero). */
static inline vf vsel(vi m, vf a, vf b) {
  vi ia, ib;
  memcpy(&ia, &a, sizeof ia);
  memcpy(&ib, &b, sizeof ib);
  ia = (ia & m) | (ib & ~m);
  memcpy(&a, &ia, sizeof a);
  return a;
}

/*
 * exp for VW lanes, the algorithm of Tessera's WebAssembly exp4 (wasm/vmath.ts, Cephes expf):
 * n = round(x log2 e), r = x - n ln2 (two-part ln2), exp(r) = 1 + r + r^2 P(r), times 2^n in two
 * factors (n reaches 128 near ln(FLT_MAX)). ~1 ulp; +inf above 88.72283, 0 below -87.33654, NaN kept.
 */
static inline vf vexp(vf x) {
  const vf lo = vsplat(-87.33654f), hi = vsplat(88.72283f);
  vf xc = vsel(x < lo, lo, x); /* NaN compares false: kept */
  xc = vsel(xc > hi, hi, xc);
  const vf t = xc * vsplat(1.44269504088896341f) + vsplat(12582912.0f);
  const vf n = t - vsplat(12582912.0f);
  vf r = xc - n * vsplat(0.693359375f);
  r = r - n * vsplat(-2.12194440e-4f);
  vf p = vsplat(1.9875691500e-4f);
  p = p * r + vsplat(1.3981999507e-3f);
  p = p * r + vsplat(8.3334519073e-3f);
  p = p * r + vsplat(4.1665795894e-2f);
  p = p * r + vsplat(1.6666665459e-1f);
  p = p * r + vsplat(5.0000001201e-1f);
  p = p * r * r + r + vsplat(1.0f);
  vi ni;
  memcpy(&ni, &t, sizeof ni);
  ni -= 0x4b400000;
  const vi nh = ni >> 1;
  const vi e1 = (nh + 127) << 23, e2 = (ni - nh + 127) << 23;
  vf f1, f2;
  memcpy(&f1, &e1, sizeof f1);
  memcpy(&f2, &e2, sizeof f2);
  vf y = p * f1 * f2;
  y = vsel(x < lo, vsplat(0.0f), y);
  return vsel(x > hi, vsplat(__builtin_inff()), y);
}

static inline vf vabs(vf x) {
  vi b;
  memcpy(&b, &x, sizeof b);
  b &= 0x7fffffff;
  memcpy(&x, &b, sizeof x);
  return x;
}

/* |y| with the sign of s. */
static inline vf vcopysign(vf y, vf s) {
  vi a, b;
  memcpy(&a, &y, sizeof a);
  memcpy(&b, &s, sizeof b);
  a = (a & 0x7fffffff) | (b & (int)0x80000000);
  memcpy(&y, &a, sizeof y);
  return y;
}
/* tanh = sign(x) (1 - e) / (1 + e), e = exp(-2|x|) (as wasm/vmath.ts tanh4). */
static inline vf vtanh(vf x) {
  const vf one = vsplat(1.0f);
  const vf e = vexp(vsplat(-2.0f) * vabs(x));
  return vcopysign((one - e) / (one + e), x);
}
#endif

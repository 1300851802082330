/*
 * Float32 GEMM and GEMV kernels, written once with GCC/Clang vector extensions and compiled
 * three times (scripts/build-native.mjs): -mavx512f (VW = 16 lanes), -mavx2 -mfma (VW = 8) and
 * the baseline ISA (VW = 4: SSE2 on x86-64, NEON on arm64). KSUFFIX names each copy.
 *
 * The GEMM is the GotoBLAS/BLIS loop nest (Goto & van de Geijn, "Anatomy of High-Performance
 * Matrix Multiplication", TOMS 2008) without packing A: for each KC-slice of k, B's slice of a
 * tile's columns is packed into panels of NR = 2 vectors, and an MR x NR register tile of C
 * accumulates over the slice reading MR rows of A in place (they stay in L1 across the panels).
 * Summation order within a slice is k ascending; slices are added into C in order.
 */
#include <stddef.h>
#include <string.h>
#include "kernels.h"
#include "vec.h"

typedef float v4 __attribute__((vector_size(16)));
#define NR (2 * VW)
#if VW == 16
#define MR 12 /* 24 accumulators of 32 zmm */
#elif VW == 8
#define MR 6 /* 12 accumulators of 16 ymm */
#else
#define MR 4 /* 8 accumulators of 16 xmm / 32 NEON */
#endif

int FN(tk_mr)(void) { return MR; }
int FN(tk_nr)(void) { return NR; }

/*
 * Packs B[k0 : k0+kc, j0 : j0+w] (w <= NR) into one panel [kc][NR], zero-padded past w.
 * B is row-major [K, N] (ldb = N), or with transB the transpose of row-major W [N, K] (ldb = K).
 */
static void pack_panel(const float *B, size_t ldb, int transB, int k0, int kc, int j0, int w, float *panel) {
  if (!transB) {
    const float *src = B + (size_t)k0 * ldb + j0;
    if (w == NR) {
      for (int k = 0; k < kc; k++) st(panel + k * NR, ld(src + k * ldb)), st(panel + k * NR + VW, ld(src + k * ldb + VW));
    } else {
      for (int k = 0; k < kc; k++) {
        memcpy(panel + k * NR, src + k * ldb, (size_t)w * 4);
        memset(panel + k * NR + w, 0, (size_t)(NR - w) * 4);
      }
    }
    return;
  }
  // transB: column c of the panel is row j0 + c of W, read contiguously; 4 rows x 4 k at a time
  // through a 4x4 register transpose (8 shuffles), the rest one value at a time.
  const int w4 = w - w % 4, k4 = kc - kc % 4;
  for (int c = 0; c < w4; c += 4) {
    const float *s0 = B + (size_t)(j0 + c) * ldb + k0, *s1 = s0 + ldb, *s2 = s1 + ldb, *s3 = s2 + ldb;
    for (int k = 0; k < k4; k += 4) {
      v4 r0, r1, r2, r3;
      memcpy(&r0, s0 + k, 16);
      memcpy(&r1, s1 + k, 16);
      memcpy(&r2, s2 + k, 16);
      memcpy(&r3, s3 + k, 16);
      const v4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5), t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
      const v4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5), t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
      const v4 c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5), c1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
      const v4 c2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5), c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
      memcpy(panel + (k + 0) * NR + c, &c0, 16);
      memcpy(panel + (k + 1) * NR + c, &c1, 16);
      memcpy(panel + (k + 2) * NR + c, &c2, 16);
      memcpy(panel + (k + 3) * NR + c, &c3, 16);
    }
    for (int k = k4; k < kc; k++) {
      panel[k * NR + c] = s0[k];
      panel[k * NR + c + 1] = s1[k];
      panel[k * NR + c + 2] = s2[k];
      panel[k * NR + c + 3] = s3[k];
    }
  }
  for (int c = w4; c < NR; c++) {
    if (c >= w) {
      for (int k = 0; k < kc; k++) panel[k * NR + c] = 0.0f;
      continue;
    }
    const float *src = B + (size_t)(j0 + c) * ldb + k0;
    for (int k = 0; k < kc; k++) panel[k * NR + c] = src[k];
  }
}

/*
 * C[0:mr, 0:w] (=, +=) A[0:mr, 0:kc] x panel[kc][NR]. `init`: 0 adds into C, 1 writes C,
 * 2 writes C = bias + product. mr is a compile-time constant in each switch case below.
 */
static inline __attribute__((always_inline)) void tile(int mr, int kc, const float *A, size_t lda, const float *panel, float *C, size_t ldc, int w,
                                                      int init, const float *bias) {
  vf c0[MR], c1[MR];
  for (int r = 0; r < MR; r++) c0[r] = (vf){0}, c1[r] = (vf){0};
  for (int k = 0; k < kc; k++) {
    const vf b0 = ld(panel + k * NR), b1 = ld(panel + k * NR + VW);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      if (r < mr) {
        const float a = A[r * lda + k];
        c0[r] += a * b0;
        c1[r] += a * b1;
      }
    }
  }
  float tmp[NR];
  for (int r = 0; r < mr; r++) {
    float *cr = C + r * ldc;
    if (w == NR) {
      if (init == 0) c0[r] += ld(cr), c1[r] += ld(cr + VW);
      else if (init == 2) c0[r] += ld(bias), c1[r] += ld(bias + VW);
      st(cr, c0[r]);
      st(cr + VW, c1[r]);
    } else {
      st(tmp, c0[r]);
      st(tmp + VW, c1[r]);
      for (int c = 0; c < w; c++) cr[c] = (init == 0 ? cr[c] : init == 2 ? bias[c] : 0.0f) + tmp[c];
    }
  }
}

static void tile_any(int mr, int kc, const float *A, size_t lda, const float *panel, float *C, size_t ldc, int w, int init, const float *bias) {
  switch (mr) {
#define CASE(n) \
  case n: tile(n, kc, A, lda, panel, C, ldc, w, init, bias); return;
    CASE(1)
    CASE(2)
    CASE(3)
    CASE(4)
#if MR > 4
    CASE(5)
    CASE(6)
#endif
#if MR > 6
    CASE(7)
    CASE(8)
    CASE(9)
    CASE(10)
    CASE(11)
    CASE(12)
#endif
#undef CASE
  }
}

/*
 * One tile of the GEMM: C[i0:i1, j0:j1] = A[i0:i1, :] B[:, j0:j1] (+ bias[j0:j1]). A row-major
 * [M, K] (lda), C row-major (ldc). `packed` holds KC x (j1 - j0 rounded up to NR) floats.
 */
void FN(tk_gemm_tile)(const float *A, size_t lda, const float *B, size_t ldb, int transB, float *C, size_t ldc, int K, int i0, int i1, int j0, int j1,
                      const float *bias, float *packed) {
  for (int k0 = 0; k0 < K || k0 == 0; k0 += TK_KC) {
    const int kc = K - k0 < TK_KC ? K - k0 : TK_KC;
    for (int j = j0; j < j1; j += NR) pack_panel(B, ldb, transB, k0, kc, j, j1 - j < NR ? j1 - j : NR, packed + (size_t)(j - j0) * kc);
    const int init = k0 > 0 ? 0 : bias ? 2 : 1;
    for (int i = i0; i < i1; i += MR) {
      const int mr = i1 - i < MR ? i1 - i : MR;
      for (int j = j0; j < j1; j += NR) {
        const int w = j1 - j < NR ? j1 - j : NR;
        tile_any(mr, kc, A + i * lda + k0, lda, packed + (size_t)(j - j0) * kc, C + i * ldc + j, ldc, w, init, bias ? bias + j : NULL);
      }
    }
    if (K == 0) break;
  }
}

/*
 * Both GEMVs read their weight rows as four streams far apart (the four quarters of the rows a
 * call covers, one row of each at a time) rather than four adjacent rows: the hardware
 * prefetchers keep four independent sequential streams going, which reads memory faster than one
 * (on a 2-core Sapphire Rapids VM: 2 threads x 1 stream 15 GB/s, x 4 streams 29 GB/s).
 */

/* y[m, n_i] = dot(x[m, :], w_i) (+ bias) for the four rows w_i = W[n_i, :]. */
static inline void dot4(const float *x, const float *W, float *y, int M, int K, int N, const int n[4], const float *bias) {
  const float *w0 = W + (size_t)n[0] * K, *w1 = W + (size_t)n[1] * K, *w2 = W + (size_t)n[2] * K, *w3 = W + (size_t)n[3] * K;
  for (int m = 0; m < M; m++) {
    float s[4];
    vdot4(x + (size_t)m * K, w0, w1, w2, w3, K, s);
    for (int i = 0; i < 4; i++) y[(size_t)m * N + n[i]] = s[i] + (bias ? bias[n[i]] : 0.0f);
  }
}

/*
 * GEMV over row-major W [N, K] (B = W^T): y[m, n] = dot(x[m, :], W[n, :]) (+ bias[n]) for
 * n in [n0, n1): one row from each quarter of the range at a time, lanes summed at the end.
 */
void FN(tk_gemv_t)(const float *x, const float *W, float *y, int M, int K, int N, int n0, int n1, const float *bias) {
  const int q = (n1 - n0) / 4;
  for (int i = 0; i < q; i++) {
    const int n[4] = {n0 + i, n0 + q + i, n0 + 2 * q + i, n0 + 3 * q + i};
    dot4(x, W, y, M, K, N, n, bias);
  }
  for (int n = n0 + 4 * q; n < n1; n++)
    for (int m = 0; m < M; m++) y[(size_t)m * N + n] = vdot(x + (size_t)m * K, W + (size_t)n * K, K) + (bias ? bias[n] : 0.0f);
}

/*
 * Part of a GEMV over row-major B [K, N] split along k: y[m, :] = x[m, k0:k1] B[k0:k1, :] for
 * m < M, adding into y (in L1) one row from each quarter of [k0, k1) at a time, then the rows
 * left over one by one (k ascending). The summation order depends only on k0 and k1.
 */
void FN(tk_gemv_nk)(const float *x, const float *B, float *y, int M, int K, int N, int k0, int k1) {
  for (int m = 0; m < M; m++) memset(y + (size_t)m * N, 0, (size_t)N * 4);
  const int nv = N - N % VW;
  const int q = (k1 - k0) / 4;
  for (int i = 0; i < q; i++) {
    const int k = k0 + i;
    const float *b0 = B + (size_t)k * N, *b1 = b0 + (size_t)q * N, *b2 = b1 + (size_t)q * N, *b3 = b2 + (size_t)q * N;
    for (int m = 0; m < M; m++) {
      const float *xm = x + (size_t)m * K + k;
      const float x0 = xm[0], x1 = xm[q], x2 = xm[2 * q], x3 = xm[3 * q];
      float *ym = y + (size_t)m * N;
      int j = 0;
      for (; j < nv; j += VW) st(ym + j, ld(ym + j) + x0 * ld(b0 + j) + x1 * ld(b1 + j) + x2 * ld(b2 + j) + x3 * ld(b3 + j));
      for (; j < N; j++) ym[j] += x0 * b0[j] + x1 * b1[j] + x2 * b2[j] + x3 * b3[j];
    }
  }
  for (int k = k0 + 4 * q; k < k1; k++) {
    const float *b0 = B + (size_t)k * N;
    for (int m = 0; m < M; m++) {
      const float x0 = x[(size_t)m * K + k];
      float *ym = y + (size_t)m * N;
      int j = 0;
      for (; j < nv; j += VW) st(ym + j, ld(ym + j) + x0 * ld(b0 + j));
      for (; j < N; j++) ym[j] += x0 * b0[j];
    }
  }
}

/* ---- element-wise ------------------------------------------------------------------------- */


/* erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), odd in x: as wasm/vmath.ts erf4. */
static inline vf verf(vf x) {
  const vf a = vabs(x);
  const vf t = vsplat(1.0f) / (vsplat(1.0f) + vsplat(0.3275911f) * a);
  vf p = vsplat(1.061405429f);
  p = p * t + vsplat(-1.453152027f);
  p = p * t + vsplat(1.421413741f);
  p = p * t + vsplat(-0.284496736f);
  p = p * t + vsplat(0.254829592f);
  p = p * t;
  return vcopysign(vsplat(1.0f) - p * vexp(-(a * a)), x);
}

/* The unary ops by code (Tessera's WASM_UNARY): 0 exp, 1 sigmoid, 2 silu, 3 gelu (erf), 4 tanh, 5 gelu (tanh form). */
static inline __attribute__((always_inline)) vf unary_v(int op, vf v) {
  const vf one = vsplat(1.0f);
  switch (op) {
    case 0: return vexp(v);
    case 1: return one / (one + vexp(-v));
    case 2: return v / (one + vexp(-v));
    case 3: return v * vsplat(0.5f) * (one + verf(v * vsplat(0.70710678118654752f)));
    default: {
      vf u = v;
      if (op == 5) u = vsplat(0.79788456080286536f) * (v + vsplat(0.044715f) * (v * (v * v)));
      const vf t = vtanh(u);
      return op == 4 ? t : v * vsplat(0.5f) * (one + t);
    }
  }
}

static inline __attribute__((always_inline)) void unary_span(int op, const float *x, float *out, size_t n) {
  size_t i = 0;
  for (; i + VW <= n; i += VW) st(out + i, unary_v(op, ld(x + i)));
  if (i < n) {
    float tmp[VW] = {0};
    memcpy(tmp, x + i, (n - i) * 4);
    const vf r = unary_v(op, ld(tmp));
    memcpy(out + i, &r, (n - i) * 4);
  }
}

/* out[i] = op(x[i]) for i < n (op: the codes above). */
void FN(tk_unary)(int op, const float *x, float *out, size_t n) {
  switch (op) {
    case 0: unary_span(0, x, out, n); break;
    case 1: unary_span(1, x, out, n); break;
    case 2: unary_span(2, x, out, n); break;
    case 3: unary_span(3, x, out, n); break;
    case 4: unary_span(4, x, out, n); break;
    default: unary_span(5, x, out, n); break;
  }
}

/* out[i] = a[i] op b[i % nb] for i in [i0, i1): 0 add, 1 sub, 2 mul, 3 div (nb = n, or a row of b repeated). */
static inline __attribute__((always_inline)) void binary_span(int op, const float *a, const float *b, size_t nb, float *out, size_t i0, size_t i1) {
  size_t i = i0;
  while (i < i1) {
    const size_t j0 = i % nb;
    size_t end = i + (nb - j0);
    if (end > i1) end = i1;
    const float *bj = b + j0 - i;
    size_t k = i;
    for (; k + VW <= end; k += VW) {
      const vf x = ld(a + k), y = ld(bj + k);
      st(out + k, op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y);
    }
    for (; k < end; k++) out[k] = op == 0 ? a[k] + bj[k] : op == 1 ? a[k] - bj[k] : op == 2 ? a[k] * bj[k] : a[k] / bj[k];
    i = end;
  }
}

void FN(tk_binary)(int op, const float *a, const float *b, size_t nb, float *out, size_t i0, size_t i1) {
  switch (op) {
    case 0: binary_span(0, a, b, nb, out, i0, i1); break;
    case 1: binary_span(1, a, b, nb, out, i0, i1); break;
    case 2: binary_span(2, a, b, nb, out, i0, i1); break;
    default: binary_span(3, a, b, nb, out, i0, i1); break;
  }
}

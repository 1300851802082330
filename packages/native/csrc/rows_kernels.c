/*
 * Row-wise float32 ops over the last axis, one copy per instruction set (compiled as kernels.c):
 * softmax and log-softmax, max-shifted (exp of x - max <= 0; a row of -inf gives NaN, as
 * PyTorch), and LayerNorm / RMSNorm (two-pass mean and biased variance, as
 * torch.nn.functional.layer_norm; RMSNorm x / sqrt(mean(x^2) + eps) as Hugging Face's
 * LlamaRMSNorm): the algorithms of Tessera's WebAssembly row kernels (wasm/rows.ts) on VW lanes.
 * A row (a few KiB) stays in L1 across its passes.
 */
#include <math.h>
#include "kernels.h"
#include "vec.h"

/* The largest lane (NaN lanes skipped: a NaN still makes the row NaN through the sum). */
static inline float hmax(vf v) {
  float m = v[0];
  for (int l = 1; l < VW; l++) m = v[l] > m ? v[l] : m;
  return m;
}

/* The tail (n < VW values) as one vector, the rest of its lanes `pad`. */
static inline vf ld_tail(const float *p, size_t n, float pad) {
  float t[VW];
  for (int l = 0; l < VW; l++) t[l] = pad;
  memcpy(t, p, n * 4);
  return ld(t);
}
static inline void st_tail(float *p, size_t n, vf v) { memcpy(p, &v, n * 4); }

static void softmax_row(const float *x, float *o, size_t D, int log) {
  const size_t nv = D - D % VW, tail = D - nv;
  // Two chains of maxima and of sums: one chain waits on its own latency every vector.
  vf m0 = vsplat(-__builtin_inff()), m1 = m0;
  size_t j = 0;
  for (; j + 2 * VW <= nv; j += 2 * VW) {
    const vf a = ld(x + j), b = ld(x + j + VW);
    m0 = vsel(a > m0, a, m0);
    m1 = vsel(b > m1, b, m1);
  }
  for (; j < nv; j += VW) {
    const vf a = ld(x + j);
    m0 = vsel(a > m0, a, m0);
  }
  float m = hmax(vsel(m1 > m0, m1, m0));
  for (j = nv; j < D; j++) m = x[j] > m ? x[j] : m;
  if (m == -__builtin_inff()) {
    for (j = 0; j < D; j++) o[j] = __builtin_nanf("");
    return;
  }
  const vf ms = vsplat(m);
  vf s0 = {0}, s1 = {0};
  for (j = 0; j + 2 * VW <= nv; j += 2 * VW) {
    const vf e0 = vexp(ld(x + j) - ms), e1 = vexp(ld(x + j + VW) - ms);
    if (!log) st(o + j, e0), st(o + j + VW, e1);
    s0 += e0, s1 += e1;
  }
  for (; j < nv; j += VW) {
    const vf e = vexp(ld(x + j) - ms);
    if (!log) st(o + j, e);
    s0 += e;
  }
  if (tail) {
    const vf e = vexp(ld_tail(x + nv, tail, -__builtin_inff()) - ms); /* padding: exp(-inf) = 0 */
    if (!log) st_tail(o + nv, tail, e);
    s1 += e;
  }
  const float s = hsum(s0 + s1);
  if (log) {
    // (x - m) - log s: x - m is exact near the max, so large logits keep their precision
    // (rounding m + log s first would cost ~u |m| absolute).
    const float ls = logf(s);
    const vf lv = vsplat(ls);
    for (j = 0; j < nv; j += VW) st(o + j, (ld(x + j) - ms) - lv);
    for (; j < D; j++) o[j] = (x[j] - m) - ls;
  } else {
    const vf inv = vsplat(1.0f / s);
    for (j = 0; j < nv; j += VW) st(o + j, ld(o + j) * inv);
    for (; j < D; j++) o[j] = o[j] / s;
  }
}

static void norm_row(const float *x, float *o, size_t D, const float *w, const float *b, float eps, int rms) {
  const size_t nv = D - D % VW;
  size_t j;
  float mean = 0.0f;
  if (!rms) {
    vf s = {0};
    for (j = 0; j < nv; j += VW) s += ld(x + j);
    float t = hsum(s);
    for (; j < D; j++) t += x[j];
    mean = t / (float)D;
  }
  const vf mv = vsplat(mean);
  vf q = {0};
  for (j = 0; j < nv; j += VW) {
    const vf d = ld(x + j) - mv;
    q += d * d;
  }
  float qs = hsum(q);
  for (; j < D; j++) qs += (x[j] - mean) * (x[j] - mean);
  const float rstd = 1.0f / sqrtf(qs / (float)D + eps);
  const vf rv = vsplat(rstd);
  for (j = 0; j < nv; j += VW) {
    vf y = (ld(x + j) - mv) * rv; /* rounded to float32 before the weight, as Hugging Face */
    if (w) y *= ld(w + j);
    if (b) y += ld(b + j);
    st(o + j, y);
  }
  for (; j < D; j++) {
    float y = (x[j] - mean) * rstd;
    if (w) y *= w[j];
    if (b) y += b[j];
    o[j] = y;
  }
}

/* Rows [r0, r1) of x [rows, D] into out (out may be x): 0 softmax, 1 log-softmax, 2 LayerNorm, 3 RMSNorm (w, b: [D] or NULL). */
void FN(tk_rows)(int op, const float *x, float *out, size_t D, size_t r0, size_t r1, const float *w, const float *b, float eps) {
  for (size_t r = r0; r < r1; r++) {
    if (op < 2) softmax_row(x + r * D, out + r * D, D, op);
    else norm_row(x + r * D, out + r * D, D, w, b, eps, op == 3);
  }
}

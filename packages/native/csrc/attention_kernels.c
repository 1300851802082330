/*
 * One query head of a decode step's attention (attention.h), compiled once per instruction set
 * like kernels.c. Per query row: the logits of the keys in its band (four keys at a time, lanes
 * along d), the biases, m = max s, p = exp(s - m), l = sum p, out = (sum_j p_j v_j) / l. The row
 * of logits is kept whole (Tk floats of scratch), so nothing is rescaled (no online softmax).
 */
#include <math.h>
#include "attention.h"
#include "kernels.h"
#include "vec.h"

static inline size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* dot(a, b) over n floats. */
static inline float dot(const float *a, const float *b, int n) {
  vf acc = {0};
  int d = 0;
  for (; d + VW <= n; d += VW) acc += ld(a + d) * ld(b + d);
  float s = hsum(acc);
  for (; d < n; d++) s += a[d] * b[d];
  return s;
}

/* s[j] = qs . k_j for the n keys at kr (rows of D floats): four keys at a time. */
static void logits(const float *qs, const float *kr, int n, int D, float *s) {
  const int Dv = D - D % VW;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const float *k0 = kr + (size_t)j * D, *k1 = k0 + D, *k2 = k1 + D, *k3 = k2 + D;
    vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int d = 0; d < Dv; d += VW) {
      const vf x = ld(qs + d);
      a0 += x * ld(k0 + d);
      a1 += x * ld(k1 + d);
      a2 += x * ld(k2 + d);
      a3 += x * ld(k3 + d);
    }
    float t[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
    for (int d = Dv; d < D; d++) t[0] += qs[d] * k0[d], t[1] += qs[d] * k1[d], t[2] += qs[d] * k2[d], t[3] += qs[d] * k3[d];
    memcpy(s + j, t, sizeof t);
  }
  for (; j < n; j++) s[j] = dot(qs, kr + (size_t)j * D, D);
}

/* acc[0:Dv] = sum_j p[j] v_j over the n value rows at vr: four rows at a time, lanes along d. */
static void weighted_sum(const float *p, const float *vr, int n, int Dv, float *acc) {
  memset(acc, 0, (size_t)Dv * 4);
  const int Dvv = Dv - Dv % VW;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const float *v0 = vr + (size_t)j * Dv, *v1 = v0 + Dv, *v2 = v1 + Dv, *v3 = v2 + Dv;
    const float p0 = p[j], p1 = p[j + 1], p2 = p[j + 2], p3 = p[j + 3];
    int d = 0;
    for (; d < Dvv; d += VW) st(acc + d, ld(acc + d) + p0 * ld(v0 + d) + p1 * ld(v1 + d) + p2 * ld(v2 + d) + p3 * ld(v3 + d));
    for (; d < Dv; d++) acc[d] += p0 * v0[d] + p1 * v1[d] + p2 * v2[d] + p3 * v3[d];
  }
  for (; j < n; j++) {
    const float *vj = vr + (size_t)j * Dv;
    for (int d = 0; d < Dv; d++) acc[d] += p[j] * vj[d];
  }
}

/*
 * The biases of one row of logits s (keys lo .. lo + n of batch b, query position pos, head h):
 * softcap, then ALiBi, then the key bias; then -inf on the lanes past n up to the next multiple of
 * VW (the max and exp below read whole vectors).
 */
static void bias_row(const tn_attn_problem *p, int b, int h, int pos, int lo, int n, float *s) {
  const int nv = (n + VW - 1) / VW * VW;
  if (p->cap != 0) {
    const vf cap = vsplat(p->cap), inv_cap = vsplat(1.0f / p->cap);
    for (int j = 0; j < nv; j += VW) st(s + j, cap * vtanh(ld(s + j) * inv_cap));
  }
  if (p->slopes || p->kbias) {
    const float neg_slope = p->slopes ? -p->slopes[h] : 0.0f;
    const float *kb = p->kbias ? p->kbias + (size_t)b * p->Tk + lo : NULL;
    for (int j = 0; j < n; j++) {
      const int dist = pos - (lo + j);
      if (p->slopes) s[j] += neg_slope * (float)(dist < 0 ? -dist : dist);
      if (kb) s[j] += kb[j];
    }
  }
  for (int j = n; j < nv; j++) s[j] = -__builtin_inff();
}

/* Query head bh (of B*H) of p: its Tq rows of out and lse. scratch: tn_attn_scratch_floats(p) floats. */
void FN(tk_attn_decode)(const tn_attn_problem *p, int bh, float *scratch) {
  const int b = bh / p->H, h = bh % p->H, G = p->H / p->Hkv;
  const int kvh = b * p->Hkv + h / G;
  const float *kh = p->k + (size_t)kvh * p->k_stride; /* [Tk][D] */
  const float *vh = p->v + (size_t)kvh * p->v_stride; /* [Tk][Dv] */
  const int D = p->D, Dv = p->Dv, shift = p->Tk - p->Tq;
  float *qs = scratch, *s = qs + round16(D), *acc = s + round16(p->Tk);
  for (int r = 0; r < p->Tq; r++) {
    const size_t row = (size_t)bh * p->Tq + r;
    const int pos = r + shift; /* the query's absolute position */
    int lo = 0, hi = p->Tk;    /* keys [lo, hi) inside the causal / window band */
    if (p->causal && pos + 1 < hi) hi = pos + 1;
    if (p->window) {
      if (pos - p->left > lo) lo = pos - p->left;
      if ((long long)pos + p->right + 1 < hi) hi = pos + p->right + 1;
    }
    const int n = hi - lo;
    float m = -__builtin_inff(), l = 0.0f;
    if (n > 0) {
      const float *q = p->q + row * D;
      for (int d = 0; d < D; d++) qs[d] = q[d] * p->scale;
      logits(qs, kh + (size_t)lo * D, n, D, s);
      bias_row(p, b, h, pos, lo, n, s);
      const int nv = (n + VW - 1) / VW * VW;
      vf mv = vsplat(-__builtin_inff());
      for (int j = 0; j < nv; j += VW) {
        const vf x = ld(s + j);
        mv = vsel(x > mv, x, mv);
      }
      for (int i = 0; i < VW; i++) m = mv[i] > m ? mv[i] : m;
      if (m != -__builtin_inff()) {
        const vf ms = vsplat(m);
        vf sum = {0};
        for (int j = 0; j < nv; j += VW) {
          const vf e = vexp(ld(s + j) - ms);
          st(s + j, e);
          sum += e;
        }
        l = hsum(sum);
        weighted_sum(s, vh + (size_t)lo * Dv, n, Dv, acc);
      }
    }
    float *o = p->out + row * Dv;
    if (l > 0) {
      const float inv = 1.0f / l;
      for (int d = 0; d < Dv; d++) o[d] = acc[d] * inv;
      p->lse[row] = m + logf(l);
    } else {
      /* a row with no key: NaN as PyTorch's softmax, or 0 with zero_masked */
      const float fill = p->zero_masked ? 0.0f : __builtin_nanf("");
      for (int d = 0; d < Dv; d++) o[d] = fill;
      p->lse[row] = -__builtin_inff();
    }
  }
}

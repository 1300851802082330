/*
 * One task of the fused attention forward (attention.h), compiled once per instruction set like
 * kernels.c: a head's block of query rows. A row's logits over its causal / window band are kept
 * whole in scratch (Tk floats), so nothing is rescaled (no online softmax): the biases, m = max s,
 * p = exp(s - m), l = sum p, out = (sum_j p_j v_j) / l, lse = m + log l.
 *  - Blocks of more than 4 rows (prefill): the block's keys are packed once as K^T [D][keys], and
 *    4 rows at a time take their logits as 4 rows x 4 vectors of keys (16 accumulators, a splat of
 *    q_d times a vector of keys per step: no horizontal sums), then p v 4 rows x one value row at
 *    a time (the value vector loaded once for the 4 rows).
 *  - Up to 4 rows (decode steps): no packing (the keys would be read twice); a dot product per key,
 *    four keys at a time, and p v one value row at a time.
 */
#include <math.h>
#include "attention.h"
#include "kernels.h"
#include "vec.h"

/* The keys [lo, hi) query position pos may attend (hi <= lo: none). */
static inline void band(const tn_attn_problem *p, int pos, int *lo, int *hi) {
  long long l = 0, h = p->Tk;
  if (p->causal && pos + 1LL < h) h = pos + 1LL;
  if (p->window) {
    if (pos - (long long)p->left > l) l = pos - (long long)p->left;
    if (pos + (long long)p->right + 1 < h) h = pos + (long long)p->right + 1;
  }
  *lo = (int)l;
  *hi = (int)(h > l ? h : l);
}

/* s[j] = qs . k_j for the n keys at kr (rows sr floats apart): four keys at a time. */
static void logits_dot(const float *qs, const float *kr, size_t sr, int n, int D, float *s) {
  int j = 0;
  for (const float *k0 = kr; j + 4 <= n; j += 4, k0 += 4 * sr) vdot4(qs, k0, k0 + sr, k0 + 2 * sr, k0 + 3 * sr, D, s + j);
  for (; j < n; j++) s[j] = vdot(qs, kr + (size_t)j * sr, D);
}

/* kt[d][j] = k_{lo + j}[d] for j < n, zero up to nv (a multiple of VW): the block's keys as K^T. */
static void pack_keys(const float *kh, size_t sr, int lo, int n, int nv, int D, float *kt) {
  for (int d = 0; d < D; d++) {
    float *row = kt + (size_t)d * nv;
    for (int j = 0; j < n; j++) row[j] = kh[(size_t)(lo + j) * sr + d];
    for (int j = n; j < nv; j++) row[j] = 0.0f;
  }
}

/* s_i[0:nv] = qs_i . K^T for the rows i < rows (qs_i D floats apart, s_i ls floats apart). */
static void logits_packed(const float *qs, int rows, size_t lq, const float *kt, int nv, int D, float *s, size_t ls) {
  int j = 0;
  for (; j + 4 * VW <= nv; j += 4 * VW) {
    vf a[4][4] = {{{0}}};
    for (int d = 0; d < D; d++) {
      const float *kd = kt + (size_t)d * nv + j;
      const vf k0 = ld(kd), k1 = ld(kd + VW), k2 = ld(kd + 2 * VW), k3 = ld(kd + 3 * VW);
      for (int i = 0; i < 4; i++) {
        const vf x = vsplat(qs[i * lq + d]);
        a[i][0] += x * k0, a[i][1] += x * k1, a[i][2] += x * k2, a[i][3] += x * k3;
      }
    }
    for (int i = 0; i < rows; i++)
      for (int c = 0; c < 4; c++) st(s + i * ls + j + c * VW, a[i][c]);
  }
  for (; j < nv; j += VW) {
    vf a[4] = {{0}};
    for (int d = 0; d < D; d++) {
      const vf k0 = ld(kt + (size_t)d * nv + j);
      for (int i = 0; i < 4; i++) a[i] += vsplat(qs[i * lq + d]) * k0;
    }
    for (int i = 0; i < rows; i++) st(s + i * ls + j, a[i]);
  }
}

/*
 * Row s of logits for keys lo0 + j, j < nv (nv a multiple of VW): softcap, ALiBi, key bias, and -inf
 * outside the row's band [lo, hi). Returns the row's max.
 */
static float bias_row(const tn_attn_problem *p, int b, int h, int pos, int lo0, int lo, int hi, int nv, float *s) {
  if (p->cap != 0) {
    const vf cap = vsplat(p->cap), inv_cap = vsplat(1.0f / p->cap);
    for (int j = 0; j < nv; j += VW) st(s + j, cap * vtanh(ld(s + j) * inv_cap));
  }
  if (p->slopes || p->kbias) {
    const float neg_slope = p->slopes ? -p->slopes[h] : 0.0f;
    const float *kb = p->kbias ? p->kbias + (size_t)b * p->Tk : NULL;
    for (int j = lo - lo0; j < hi - lo0; j++) {
      const int key = lo0 + j, dist = pos - key;
      if (p->slopes) s[j] += neg_slope * (float)(dist < 0 ? -dist : dist);
      if (kb) s[j] += kb[key];
    }
  }
  for (int j = 0; j < lo - lo0 && j < nv; j++) s[j] = -__builtin_inff();
  for (int j = hi - lo0 > 0 ? hi - lo0 : 0; j < nv; j++) s[j] = -__builtin_inff();
  vf mv = vsplat(-__builtin_inff());
  for (int j = 0; j < nv; j += VW) {
    const vf x = ld(s + j);
    mv = vsel(x > mv, x, mv);
  }
  float m = -__builtin_inff();
  for (int i = 0; i < VW; i++) m = mv[i] > m ? mv[i] : m;
  return m;
}

/* s = exp(s - m) in place over nv floats; returns the sum. */
static float exp_row(float *s, int nv, float m) {
  const vf ms = vsplat(m);
  vf sum = {0};
  for (int j = 0; j < nv; j += VW) {
    const vf e = vexp(ld(s + j) - ms);
    st(s + j, e);
    sum += e;
  }
  return hsum(sum);
}

/* acc_i[0:Dv] = sum_{j in [j0, j1)} p_i[j] v_{lo0 + j} for rows i < rows (p_i ls floats apart, acc_i la apart). */
static void weighted_sum(const float *pr, int rows, size_t ls, const float *vh, size_t sr, int lo0, int j0, int j1, int Dv, float *acc, size_t la) {
  for (int i = 0; i < rows; i++) memset(acc + i * la, 0, (size_t)Dv * 4);
  const int Dvv = Dv - Dv % VW;
  for (int j = j0; j < j1; j++) {
    const float *vj = vh + (size_t)(lo0 + j) * sr;
    float pj[4] = {0, 0, 0, 0};
    for (int i = 0; i < rows; i++) pj[i] = pr[i * ls + j];
    int d = 0;
    for (; d < Dvv; d += VW) {
      const vf x = ld(vj + d);
      for (int i = 0; i < rows; i++) st(acc + i * la + d, ld(acc + i * la + d) + pj[i] * x);
    }
    for (; d < Dv; d++)
      for (int i = 0; i < rows; i++) acc[i * la + d] += pj[i] * vj[d];
  }
}

/* out and lse of a row from its m, l and acc (a row with no key: NaN, or 0 with zero_masked; lse -inf). */
static void finish_row(const tn_attn_problem *p, int b, int h, int r, float m, float l, const float *acc) {
  float *o = p->out + (size_t)b * p->osb + (size_t)h * p->osh + (size_t)r * p->osr;
  float *lse = p->lse + ((size_t)b * p->H + h) * p->Tq + r;
  if (l > 0) {
    const float inv = 1.0f / l;
    for (int d = 0; d < p->Dv; d++) o[d] = acc[d] * inv;
    *lse = m + logf(l);
  } else {
    const float fill = p->zero_masked ? 0.0f : __builtin_nanf("");
    for (int d = 0; d < p->Dv; d++) o[d] = fill;
    *lse = -__builtin_inff();
  }
}

/* Query rows [r0, r1) of head bh (of B*H). scratch: tn_attn_scratch_floats(p) floats. */
void FN(tk_attn_rows)(const tn_attn_problem *p, int bh, int r0, int r1, float *scratch) {
  const int b = bh / p->H, h = bh % p->H, g = h / (p->H / p->Hkv);
  const float *qh = p->q.base + (size_t)b * p->q.sb + (size_t)h * p->q.sh;
  const float *kh = p->k.base + (size_t)b * p->k.sb + (size_t)g * p->k.sh;
  const float *vh = p->v.base + (size_t)b * p->v.sb + (size_t)g * p->v.sh;
  const int D = p->D, shift = p->Tk - p->Tq;
  const size_t lq = tn_round16(D), ls = tn_round16(p->Tk), la = tn_round16(p->Dv);
  float *qs = scratch, *s = qs + 4 * lq, *acc = s + 4 * ls, *kt = acc + 4 * la;
  int blo, bhi, unused;
  band(p, r0 + shift, &blo, &unused);
  band(p, r1 - 1 + shift, &unused, &bhi);
  const int packed = r1 - r0 > 4 && bhi > blo && (size_t)D * ls <= TN_ATTN_PACK_MAX;
  const int nb = bhi - blo, nbv = (nb + VW - 1) / VW * VW;
  if (packed) pack_keys(kh, p->k.sr, blo, nb, nbv, D, kt);
  for (int r = r0; r < r1; r += 4) {
    const int rows = r1 - r < 4 ? r1 - r : 4;
    for (int i = 0; i < 4; i++)
      for (int d = 0; d < D; d++) qs[i * lq + d] = i < rows ? qh[(size_t)(r + i) * p->q.sr + d] * p->scale : 0.0f;
    if (packed) logits_packed(qs, rows, lq, kt, nbv, D, s, ls);
    int lo[4], hi[4], jlo = p->Tk, jhi = 0;
    float m[4], l[4];
    for (int i = 0; i < rows; i++) band(p, r + i + shift, &lo[i], &hi[i]);
    for (int i = 0; i < rows; i++) {
      // keys lo0 + j, j < nv, in row i's logits: the block's keys (packed) or its own band
      const int lo0 = packed ? blo : lo[i], n = packed ? nb : hi[i] - lo[i], nv = (n + VW - 1) / VW * VW;
      m[i] = -__builtin_inff(), l[i] = 0.0f;
      if (hi[i] <= lo[i]) continue;
      if (!packed) logits_dot(qs + i * lq, kh + (size_t)lo[i] * p->k.sr, p->k.sr, n, D, s + i * ls);
      m[i] = bias_row(p, b, h, r + i + shift, lo0, lo[i], hi[i], nv, s + i * ls);
      if (m[i] == -__builtin_inff()) continue;
      l[i] = exp_row(s + i * ls, nv, m[i]);
      if (lo[i] - lo0 < jlo) jlo = lo[i] - lo0;
      if (hi[i] - lo0 > jhi) jhi = hi[i] - lo0;
    }
    if (packed) {
      // rows whose softmax is empty contribute p = 0 over the shared span
      for (int i = 0; i < rows; i++)
        if (l[i] == 0.0f) memset(s + i * ls, 0, (size_t)nbv * 4);
      if (jhi > jlo) weighted_sum(s, rows, ls, vh, p->v.sr, blo, jlo, jhi, p->Dv, acc, la);
      for (int i = 0; i < rows; i++) finish_row(p, b, h, r + i, m[i], l[i], acc + i * la);
    } else {
      for (int i = 0; i < rows; i++) {
        if (l[i] > 0) weighted_sum(s + i * ls, 1, ls, vh, p->v.sr, lo[i], 0, hi[i] - lo[i], p->Dv, acc + i * la, la);
        finish_row(p, b, h, r + i, m[i], l[i], acc + i * la);
      }
    }
  }
}

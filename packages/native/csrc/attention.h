/* Attention of a few query rows (decode steps) over keys and values read in place (attention.c). */
#ifndef TESSERA_ATTENTION_H
#define TESSERA_ATTENTION_H
#include <stddef.h>

/*
 * out = softmax(s) v per query row, s_j = c tanh((q . k_j) scale / c) (softcap c; none when 0)
 * - slope_h |pos - j| (ALiBi) + kbias[b, j], over the keys j of the causal / sliding-window band
 * (positions bottom-right aligned: query r of Tq sits at r + Tk - Tq); lse = the row's logsumexp.
 * A row with no key gets NaN (0 with zero_masked) and lse -inf. Query head h reads key / value
 * head h / (H / Hkv) (grouped-query attention). The semantics of Tessera's WebAssembly
 * flash_decode (@tessera/attention wasm/flash.ts).
 */
typedef struct {
  int B, H, Hkv, Tq, Tk, D, Dv;
  int causal, window, left, right, zero_masked;
  float scale, cap;
  const float *q;      /* [B*H][Tq][D] */
  const float *k;      /* key head g's rows [Tk][D] at k + g * k_stride */
  size_t k_stride;
  const float *v;      /* value head g's rows [Tk][Dv] at v + g * v_stride */
  size_t v_stride;
  const float *kbias;  /* [B][Tk]: 0, or -inf on padding keys; or NULL */
  const float *slopes; /* [H] ALiBi slopes, or NULL */
  float *out;          /* [B*H][Tq][Dv] */
  float *lse;          /* [B*H][Tq] */
} tn_attn_problem;

/* Floats of scratch one thread needs for p (the kernels' qs | s | acc rows, each rounded up to 16). */
size_t tn_attn_scratch_floats(const tn_attn_problem *p);

/* Runs p on the pool (query heads split among the threads). 0, or -1 when scratch memory could not be allocated. */
int tn_attention_decode(const tn_attn_problem *p);
#endif

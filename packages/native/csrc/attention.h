/* Fused attention forward on the cpu (attention.c): out and the rows' logsumexp, nothing Tq x Tk stored. */
#ifndef TESSERA_ATTENTION_H
#define TESSERA_ATTENTION_H
#include <stddef.h>

/* Where row r of head h of batch b of an operand is: base + b * sb + h * sh + r * sr (floats; a row's values contiguous). */
typedef struct {
  const float *base;
  size_t sb, sh, sr;
} tn_rows;

/*
 * out = softmax(s) v per query row, s_j = c tanh((q . k_j) scale / c) (softcap c; none when 0)
 * - slope_h |pos - j| (ALiBi) + kbias[b, j], over the keys j of the causal / sliding-window band
 * (positions bottom-right aligned: query r of Tq sits at r + Tk - Tq); lse = the row's logsumexp.
 * A row with no key gets NaN (0 with zero_masked) and lse -inf. Query head h reads key / value
 * head h / (H / Hkv) (grouped-query attention). The semantics of Tessera's WebAssembly flash
 * attention (@tessera/attention wasm/flash.ts).
 */
typedef struct {
  int B, H, Hkv, Tq, Tk, D, Dv;
  int causal, window, left, right, zero_masked;
  float scale, cap;
  tn_rows q;           /* [B][H][Tq][D] */
  tn_rows k;           /* [B][Hkv][Tk][D] */
  tn_rows v;           /* [B][Hkv][Tk][Dv] */
  float *out;          /* [B][H][Tq][Dv] at out + b * osb + h * osh + r * osr */
  size_t osb, osh, osr;
  float *lse;          /* [B*H][Tq] dense */
  const float *kbias;  /* [B][Tk]: 0, or -inf on padding keys; or NULL */
  const float *slopes; /* [H] ALiBi slopes, or NULL */
} tn_attn_problem;

/* Query rows a task covers (one head's rows [r0, r0 + TN_ATTN_ROWS)). */
#define TN_ATTN_ROWS 32
/* Floats of packed keys (D x Tk) at most: longer key sets take the unpacked path (dot products). */
#define TN_ATTN_PACK_MAX ((size_t)1 << 20)

/* n rounded up to a multiple of 16 (the widest vector): the scratch rows' length. */
static inline size_t tn_round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Floats of scratch one thread needs for p: 4 rows each of scaled queries (D), logits (Tk) and
 * outputs (Dv), then the packed keys (D x Tk) when they fit TN_ATTN_PACK_MAX. */
size_t tn_attn_scratch_floats(const tn_attn_problem *p);

/* Runs p on the pool (tasks: a head's block of query rows). 0, or -1 when scratch memory could not be allocated. */
int tn_attention(const tn_attn_problem *p);
#endif

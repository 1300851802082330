/* The float32 kernels, one copy per instruction set (kernels.c compiled with KSUFFIX set). */
#ifndef TESSERA_KERNELS_H
#define TESSERA_KERNELS_H
#include <stddef.h>
#include "attention.h"

/* k-slice of the GEMM (floats of k a packed B panel holds). */
#define TK_KC 384

#define TK_DECLARE(S)                                                                                                          \
  int tk_mr_##S(void);                                                                                                       \
  int tk_nr_##S(void);                                                                                                       \
  void tk_gemm_tile_##S(const float *A, size_t lda, const float *B, size_t ldb, int transB, float *C, size_t ldc, int K, int i0, int i1, \
                        int j0, int j1, const float *bias, float *packed);                                                   \
  void tk_gemv_t_##S(const float *x, const float *W, float *y, int M, int K, int N, int n0, int n1, const float *bias);        \
  void tk_gemv_nk_##S(const float *x, const float *B, float *y, int M, int K, int N, int k0, int k1);                        \
  void tk_unary_##S(int op, const float *x, float *out, size_t n);                                                         \
  void tk_binary_##S(int op, const float *a, const float *b, size_t nb, float *out, size_t i0, size_t i1);                  \
  void tk_attn_rows_##S(const tn_attn_problem *p, int bh, int r0, int r1, float *scratch);                                  \
  void tk_rows_##S(int op, const float *x, float *out, size_t D, size_t r0, size_t r1, const float *w, const float *b, float eps);

TK_DECLARE(generic)
#if defined(__x86_64__) || defined(_M_X64)
TK_DECLARE(avx2)
TK_DECLARE(avx512)
#endif
#endif

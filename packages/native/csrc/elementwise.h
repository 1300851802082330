/* Element-wise float32 ops on the pool (elementwise.c). */
#ifndef TESSERA_ELEMENTWISE_H
#define TESSERA_ELEMENTWISE_H
#include <stddef.h>

/* The unary ops by code: 0 exp, 1 sigmoid, 2 silu, 3 gelu (erf), 4 tanh, 5 gelu (tanh form). */
#define TN_UNARY_OPS 6
void tn_unary(int op, const float *x, float *out, size_t n);
/* out[i] = a[i] op b[i % nb], i < n (nb divides n): 0 add, 1 sub, 2 mul, 3 div. */
#define TN_BINARY_OPS 4
void tn_binary(int op, const float *a, const float *b, size_t nb, float *out, size_t n);
/* Row-wise ops over x [rows, D] into out (out may be x): 0 softmax, 1 log-softmax, 2 LayerNorm
 * (w, b: [D] or NULL), 3 RMSNorm (w or NULL); rows_kernels.c. */
#define TN_ROW_OPS 4
void tn_row_op(int op, const float *x, float *out, size_t rows, size_t D, const float *w, const float *b, float eps);
#endif

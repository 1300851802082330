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
#endif

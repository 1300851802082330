/* One instruction set's copy of the kernels (kernels.c compiled per ISA), as gemm.c picks it. */
#ifndef TESSERA_ISA_H
#define TESSERA_ISA_H
#include <stddef.h>
#include "attention.h"

typedef struct {
  const char *name;
  int (*mr)(void);
  int (*nr)(void);
  void (*gemm_tile)(const float *, size_t, const float *, size_t, int, float *, size_t, int, int, int, int, int, const float *, float *);
  void (*gemv_t)(const float *, const float *, float *, int, int, int, int, int, const float *);
  void (*gemv_nk)(const float *, const float *, float *, int, int, int, int, int);
  void (*unary)(int, const float *, float *, size_t);
  void (*binary)(int, const float *, const float *, size_t, float *, size_t, size_t);
  void (*attn_rows)(const tn_attn_problem *, int, int, int, float *);
  void (*rows)(int, const float *, float *, size_t, size_t, size_t, const float *, const float *, float);
} isa_t;

/* The instruction set in use (the best this cpu has unless tn_set_isa chose another). */
const isa_t *tn_current_isa(void);
#endif

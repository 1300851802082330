/* Float32 products on the cpu (gemm.c). */
#ifndef TESSERA_GEMM_H
#define TESSERA_GEMM_H
#include <stddef.h>

/* Rows at or below this go through the GEMV kernels (B read once in its layout, not packed). */
#define TN_GEMV_MAX_ROWS 4

/*
 * C [M, N] = A [M, K] B (+ bias [N] on every row); B is row-major [K, N], or with transB the
 * transpose of row-major W [N, K]. Every matrix dense row-major. Returns 0, or -1 when
 * scratch memory could not be allocated (C is then incomplete).
 */
/*
 * The process-wide lock every entry point that uses the pool or the shared scratch holds: Node
 * loads the addon once per process, and worker_threads may call it at the same time.
 */
void tn_lock(void);
void tn_unlock(void);

/*
 * Pool thread t's scratch, at least `floats` floats, 64-byte aligned; grown as needed and kept
 * between calls (the caller holds tn_lock). NULL when it could not be allocated.
 */
float *tn_thread_scratch(int t, size_t floats);

int tn_matmul(const float *A, const float *B, float *C, int M, int N, int K, int transB, const float *bias);
const char *tn_isa(void);
/* Forces an instruction set by name (NULL: the best this cpu has); 0 when unknown or unsupported. */
int tn_set_isa(const char *name);
const char *tn_isas(void);
void tn_set_threads(int n);
int tn_threads(void);
#endif

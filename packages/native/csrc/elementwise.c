/*
 * Element-wise ops on the pool: the unary activations (exp, sigmoid, silu, gelu, tanh, gelu-tanh;
 * the algorithms of Tessera's WebAssembly kernels) and add / sub / mul / div of same-size arrays
 * or of a row repeated, split in chunks that the threads claim. Every element is computed alone:
 * the result does not depend on the split. The row-wise ops (softmax, norms) split whole rows.
 */
#include "elementwise.h"
#include <stdatomic.h>
#include "gemm.h"
#include "isa.h"
#include "pool.h"

/* Elements a chunk holds (multiple of 64: whole vectors, no two threads on one cache line). */
#define CHUNK 16384
/* Elements below which one thread does it all (waking another costs ~5-50 us). */
#define THREAD_MIN 65536

typedef struct {
  const isa_t *isa;
  int op, binary, threads;
  const float *a, *b;
  size_t nb, n;
  float *out;
  atomic_size_t next;
} ew_job;

static void ew_worker(void *ctx, int t) {
  ew_job *j = ctx;
  if (t >= j->threads) return;
  for (size_t c; (c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed) * CHUNK) < j->n;) {
    const size_t e = c + CHUNK < j->n ? c + CHUNK : j->n;
    if (j->binary) j->isa->binary(j->op, j->a, j->b, j->nb, j->out, c, e);
    else j->isa->unary(j->op, j->a + c, j->out + c, e - c);
  }
}

/* Threads for n values in `chunks` chunks: one below THREAD_MIN, never more than the chunks. */
static int threads_for(size_t n, size_t chunks) {
  int t = n >= THREAD_MIN ? tn_threads() : 1;
  if ((size_t)t > chunks) t = (int)chunks;
  return t < 1 ? 1 : t;
}

static void run(ew_job *j) {
  j->threads = threads_for(j->n, (j->n + CHUNK - 1) / CHUNK);
  pool_run(j->threads, ew_worker, j);
}

void tn_unary(int op, const float *x, float *out, size_t n) {
  tn_lock();
  ew_job j = {tn_current_isa(), op, 0, 1, x, NULL, 0, n, out, 0};
  if (n) run(&j);
  tn_unlock();
}

void tn_binary(int op, const float *a, const float *b, size_t nb, float *out, size_t n) {
  tn_lock();
  ew_job j = {tn_current_isa(), op, 1, 1, a, b, nb, n, out, 0};
  if (n && nb) run(&j);
  tn_unlock();
}

typedef struct {
  const isa_t *isa;
  int op, threads;
  const float *x, *w, *b;
  float *out, eps;
  size_t rows, D, chunk_rows;
  atomic_size_t next;
} rows_job;

static void rows_worker(void *ctx, int t) {
  rows_job *j = ctx;
  if (t >= j->threads) return;
  for (size_t r; (r = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed) * j->chunk_rows) < j->rows;) {
    const size_t e = r + j->chunk_rows < j->rows ? r + j->chunk_rows : j->rows;
    j->isa->rows(j->op, j->x, j->out, j->D, r, e, j->w, j->b, j->eps);
  }
}

void tn_row_op(int op, const float *x, float *out, size_t rows, size_t D, const float *w, const float *b, float eps) {
  if (!rows || !D) return;
  tn_lock();
  rows_job j = {tn_current_isa(), op, 1, x, w, b, out, eps, rows, D, 0, 0};
  j.chunk_rows = D >= CHUNK ? 1 : CHUNK / D; /* chunks of ~CHUNK elements, whole rows */
  j.threads = threads_for(rows * D, (rows + j.chunk_rows - 1) / j.chunk_rows);
  pool_run(j.threads, rows_worker, &j);
  tn_unlock();
}

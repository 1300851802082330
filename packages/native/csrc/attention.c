/*
 * Decode-step attention on the pool (attention.h): the B*H query heads are tasks the threads
 * claim with an atomic counter; each head is computed the same way whichever thread takes it, so
 * the result does not depend on the thread count. Keys and values are read where they are (a
 * key / value cache's storage): nothing is copied in.
 */
#include "attention.h"
#include <stdatomic.h>
#include <stdlib.h>
#include "gemm.h"
#include "isa.h"
#include "pool.h"

/* Multiply-adds below which one thread runs the step (waking another costs ~5-50 us). */
#define THREAD_MIN_MACS (1 << 16)

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t tn_attn_scratch_floats(const tn_attn_problem *p) { return round16(p->D) + round16(p->Tk) + round16(p->Dv); }

typedef struct {
  const isa_t *isa;
  const tn_attn_problem *p;
  float *scratch;
  size_t per_thread;
  int threads, tasks;
  atomic_int next;
} attn_job;

static void attn_worker(void *ctx, int t) {
  attn_job *j = ctx;
  if (t >= j->threads) return;
  for (int bh; (bh = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->tasks;) j->isa->attn_decode(j->p, bh, j->scratch + (size_t)t * j->per_thread);
}

static float *scratch;
static size_t scratch_len;

int tn_attention_decode(const tn_attn_problem *p) {
  const int tasks = p->B * p->H;
  if (tasks == 0 || p->Tq == 0) return 0;
  tn_lock();
  const double macs = (double)tasks * p->Tq * p->Tk * (p->D + p->Dv);
  int threads = macs >= THREAD_MIN_MACS ? tn_threads() : 1;
  if (threads > tasks) threads = tasks;
  const size_t per = tn_attn_scratch_floats(p);
  if (scratch_len < (size_t)threads * per) {
    free(scratch);
    scratch = malloc((size_t)threads * per * 4);
    scratch_len = scratch ? (size_t)threads * per : 0;
    if (!scratch) {
      tn_unlock();
      return -1;
    }
  }
  attn_job j = {tn_current_isa(), p, scratch, per, threads, tasks, 0};
  pool_run(threads, attn_worker, &j);
  tn_unlock();
  return 0;
}

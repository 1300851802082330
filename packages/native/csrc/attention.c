/*
 * The fused attention forward on the pool (attention.h): the tasks are blocks of TN_ATTN_ROWS
 * query rows of one head, claimed by the threads with an atomic counter, the costliest first
 * (under a causal mask the last blocks see the most keys). Each task is computed the same way
 * whichever thread takes it, so the result does not depend on the thread count. Keys and values
 * are read where they are (a key / value cache's storage, a fused qkv projection's columns):
 * nothing is copied in.
 */
#include "attention.h"
#include <stdatomic.h>
#include <stdlib.h>
#include "gemm.h"
#include "isa.h"
#include "pool.h"

/* Multiply-adds below which one thread runs it all (waking another costs ~5-50 us). */
#define THREAD_MIN_MACS (1 << 16)

size_t tn_attn_scratch_floats(const tn_attn_problem *p) {
  const size_t ls = tn_round16(p->Tk), kt = (size_t)p->D * ls;
  return 4 * (tn_round16(p->D) + ls + tn_round16(p->Dv)) + (kt <= TN_ATTN_PACK_MAX ? kt : 0);
}

typedef struct {
  const isa_t *isa;
  const tn_attn_problem *p;
  size_t per_thread;
  int threads, heads, blocks;
  atomic_int next;
  atomic_int failed;
} attn_job;

static void attn_worker(void *ctx, int t) {
  attn_job *j = ctx;
  if (t >= j->threads) return;
  float *scratch = tn_thread_scratch(t, j->per_thread);
  if (!scratch) {
    atomic_store(&j->failed, 1); /* the other threads take this one's tasks */
    return;
  }
  const int tasks = j->heads * j->blocks;
  for (int task; (task = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < tasks;) {
    const int block = j->blocks - 1 - task / j->heads, bh = task % j->heads;
    const int r0 = block * TN_ATTN_ROWS, r1 = r0 + TN_ATTN_ROWS < j->p->Tq ? r0 + TN_ATTN_ROWS : j->p->Tq;
    j->isa->attn_rows(j->p, bh, r0, r1, scratch);
  }
}

int tn_attention(const tn_attn_problem *p) {
  const int heads = p->B * p->H, blocks = (p->Tq + TN_ATTN_ROWS - 1) / TN_ATTN_ROWS;
  if (heads == 0 || blocks == 0) return 0;
  tn_lock();
  const double macs = (double)heads * p->Tq * p->Tk * (p->D + p->Dv);
  int threads = macs >= THREAD_MIN_MACS ? tn_threads() : 1;
  if (threads > heads * blocks) threads = heads * blocks;
  attn_job j = {tn_current_isa(), p, tn_attn_scratch_floats(p), threads, heads, blocks, 0, 0};
  pool_run(threads, attn_worker, &j);
  tn_unlock();
  /* a thread without scratch claimed no task; only when none had scratch is work left undone */
  return atomic_load(&j.failed) && atomic_load(&j.next) < heads * blocks ? -1 : 0;
}

/*
 * The worker pool. A job is published by bumping `generation`; workers spin on it for a short
 * while after each job (products arrive back to back in a forward pass) and then sleep on a
 * condition variable. The caller takes part as thread 0 and waits for the others on `pending`.
 * Every worker takes part in every job (one past the job's thread count returns at once), so no
 * job is published before each worker has finished the last one.
 */
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_WORKERS 63
/* How long a worker spins for the next job before it sleeps (waking one costs 0.05-0.3 ms; a
 * 768x768 GEMV in a GPT-2 decode step took 0.18 ms with 0.3 ms of spin, 0.145 with 3 ms). */
#define SPIN_NS 1000000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_uint generation;
static atomic_int pending;
static atomic_int sleepers;
static int started;
static void (*job_fn)(void *, int);
static void *job_ctx;
static int job_threads;
static int *spin_flag; /* read and written with __atomic builtins: set from JS, read by workers */
/* Each worker's first generation (the one current when it was started). */
static unsigned start_generation[MAX_WORKERS + 1];

void pool_set_spin_flag(int *flag) { __atomic_store_n(&spin_flag, flag, __ATOMIC_SEQ_CST); }

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Whether a worker may keep spinning: no other pool has dispatched since this one did. */
static int ours(void) {
  int *flag = __atomic_load_n(&spin_flag, __ATOMIC_ACQUIRE);
  return !flag || __atomic_load_n(flag, __ATOMIC_RELAXED) == POOL_ID;
}

static void *worker(void *arg) {
  const int t = (int)(size_t)arg;
  unsigned seen = start_generation[t]; /* written before the thread was created */
  for (;;) {
    unsigned g;
    const long long until = now_ns() + SPIN_NS;
    for (int spins = 0; (g = atomic_load_explicit(&generation, memory_order_acquire)) == seen; spins++) {
      if ((spins & 63) == 63 && (now_ns() > until || !ours())) break;
      CPU_RELAX();
    }
    if (g == seen) {
      pthread_mutex_lock(&lock);
      atomic_fetch_add(&sleepers, 1);
      while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&wake, &lock);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&lock);
    }
    seen = g;
    if (t < job_threads) job_fn(job_ctx, t);
    atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
  }
  return NULL;
}

int pool_workers(void) { return started; }

void pool_run(int threads, void (*fn)(void *ctx, int t), void *ctx) {
  if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
  while (started < threads - 1) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    start_generation[started + 1] = atomic_load(&generation);
    if (pthread_create(&th, &attr, worker, (void *)(size_t)(started + 1)) != 0) {
      pthread_attr_destroy(&attr);
      break; /* run with the threads there are */
    }
    pthread_attr_destroy(&attr);
    started++;
  }
  if (threads > started + 1) threads = started + 1;
  if (threads <= 1) {
    fn(ctx, 0);
    return;
  }
  job_fn = fn;
  job_ctx = ctx;
  job_threads = threads;
  int *flag = __atomic_load_n(&spin_flag, __ATOMIC_ACQUIRE);
  if (flag) __atomic_store_n(flag, POOL_ID, __ATOMIC_SEQ_CST); /* other pools' workers stop spinning */
  atomic_store(&pending, started);
  atomic_fetch_add(&generation, 1); /* sequentially consistent: pairs with a worker's sleepers increment */
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
  }
  fn(ctx, 0);
  while (atomic_load_explicit(&pending, memory_order_acquire) > 0) CPU_RELAX();
}

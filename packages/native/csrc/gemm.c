/*
 * The float32 products the addon exports, and the instruction-set table: the one picked at load
 * (or forced by tn_set_isa), the work split in chunks that threads claim with an atomic counter (a thread that
 * runs late takes fewer), and the GEMV for few rows (decoding) reading B once in its layout.
 */
#include "gemm.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "kernels.h"
#include "pool.h"

#include "isa.h"

#define ISA(S) {#S, tk_mr_##S, tk_nr_##S, tk_gemm_tile_##S, tk_gemv_t_##S, tk_gemv_nk_##S, tk_unary_##S, tk_binary_##S, tk_attn_rows_##S, tk_rows_##S}
static const isa_t isas[] = {
#if defined(__x86_64__) || defined(_M_X64)
    ISA(avx512),
    ISA(avx2),
#endif
    ISA(generic),
};
#define N_ISAS ((int)(sizeof isas / sizeof isas[0]))

static int supported(const isa_t *isa) {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (isa->gemm_tile == tk_gemm_tile_avx512) return __builtin_cpu_supports("avx512f");
  if (isa->gemm_tile == tk_gemm_tile_avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  (void)isa;
  return 1;
}

static const isa_t *current;

static pthread_mutex_t entry = PTHREAD_MUTEX_INITIALIZER;
void tn_lock(void) { pthread_mutex_lock(&entry); }
void tn_unlock(void) { pthread_mutex_unlock(&entry); }
static int thread_count = 1;

static const isa_t *best(void) {
  for (int i = 0; i < N_ISAS; i++)
    if (supported(&isas[i])) return &isas[i];
  return &isas[N_ISAS - 1];
}

const isa_t *tn_current_isa(void) {
  if (!current) current = best();
  return current;
}

const char *tn_isa(void) { return tn_current_isa()->name; }

static int set_isa_locked(const char *name) {
  if (!name) {
    current = best();
    return 1;
  }
  for (int i = 0; i < N_ISAS; i++) {
    const char *a = isas[i].name, *b = name;
    while (*a && *a == *b) a++, b++;
    if (*a == 0 && *b == 0) {
      if (!supported(&isas[i])) return 0;
      current = &isas[i];
      return 1;
    }
  }
  return 0;
}

int tn_set_isa(const char *name) {
  tn_lock();
  const int ok = set_isa_locked(name);
  tn_unlock();
  return ok;
}

const char *tn_isas(void) {
#if defined(__x86_64__) || defined(_M_X64)
  return "avx512,avx2,generic";
#else
  return "generic";
#endif
}

void tn_set_threads(int n) {
  tn_lock();
  thread_count = n < 1 ? 1 : n > 64 ? 64 : n;
  tn_unlock();
}
int tn_threads(void) { return thread_count; }

/* Scratch for pool thread t (a GEMM's packed panels, an attention task's rows), grown as needed and kept. */
static float *scratch[64];
static size_t scratch_len[64];
float *tn_thread_scratch(int t, size_t floats) {
  if (scratch_len[t] < floats) {
    free(scratch[t]);
    scratch[t] = aligned_alloc(64, ((floats * 4 + 63) / 64) * 64);
    scratch_len[t] = scratch[t] ? floats : 0;
  }
  return scratch[t];
}

/* Rows of C a GEMM tile covers: A's rows for one tile stay in L2 with the C block. */
#define TILE_ROWS 192

typedef struct {
  const isa_t *isa;
  const float *A, *B, *bias;
  float *C;
  int M, N, K, transB, threads;
  int row_tiles, col_tiles, cols_per_tile; /* tiles: row_tiles x col_tiles, claimed in order */
  atomic_int next;
  atomic_int failed;
} gemm_job;

static void gemm_worker(void *ctx, int t) {
  gemm_job *j = ctx;
  if (t >= j->threads) return;
  const int kc = j->K < TK_KC ? (j->K > 0 ? j->K : 1) : TK_KC;
  float *packed = tn_thread_scratch(t, (size_t)kc * j->cols_per_tile);
  if (!packed) {
    atomic_store(&j->failed, 1);
    return;
  }
  const size_t ldb = j->transB ? (size_t)j->K : (size_t)j->N;
  const int total = j->row_tiles * j->col_tiles;
  for (int c; (c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < total;) {
    const int ct = c % j->col_tiles, rt = c / j->col_tiles;
    const int i0 = rt * TILE_ROWS, i1 = i0 + TILE_ROWS < j->M ? i0 + TILE_ROWS : j->M;
    const int j0 = ct * j->cols_per_tile, j1 = j0 + j->cols_per_tile < j->N ? j0 + j->cols_per_tile : j->N;
    j->isa->gemm_tile(j->A, (size_t)j->K, j->B, ldb, j->transB, j->C, (size_t)j->N, j->K, i0, i1, j0, j1, j->bias, packed);
  }
}

/*
 * The GEMV's chunks: of W's rows (transB: dot products into y), or of k rows of a row-major B,
 * each summed into its own partial [M, N] at y + c M N (added in order afterwards).
 */
typedef struct {
  const isa_t *isa;
  const float *x, *B, *bias;
  float *y;
  int M, N, K, transB, threads, chunk, chunks;
  atomic_int next;
} gemv_job;

static void gemv_worker(void *ctx, int t) {
  gemv_job *j = ctx;
  if (t >= j->threads) return;
  const int extent = j->transB ? j->N : j->K;
  for (int c; (c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->chunks;) {
    const int lo = c * j->chunk, hi = lo + j->chunk < extent ? lo + j->chunk : extent;
    if (j->transB) j->isa->gemv_t(j->x, j->B, j->y, j->M, j->K, j->N, lo, hi, j->bias);
    else j->isa->gemv_nk(j->x, j->B, j->y + (size_t)c * j->M * j->N, j->M, j->K, j->N, lo, hi);
  }
}

static float *partials;
static size_t partials_len;

/* Multiply-adds below which one thread runs the product (waking another costs ~5-50 us). */
#define THREAD_MIN_MACS (1 << 17)

static int matmul_locked(const float *A, const float *B, float *C, int M, int N, int K, int transB, const float *bias);

int tn_matmul(const float *A, const float *B, float *C, int M, int N, int K, int transB, const float *bias) {
  tn_lock();
  const int r = matmul_locked(A, B, C, M, N, K, transB, bias);
  tn_unlock();
  return r;
}

/* Row-major B, few rows: 8 k-chunks of 64+ rows whatever the thread count, so the partials and the
 * order they are added in, so the result, are the same on any number of threads. */
static int gemv_rowmajor(const float *A, const float *B, float *C, int M, int N, int K, const float *bias, int threads) {
  int chunk = (K + 7) / 8;
  chunk = chunk < 64 ? 64 : (chunk + 3) / 4 * 4; /* whole quarters (tk_gemv_nk reads one row of each at a time) */
  const int chunks = K > 0 ? (K + chunk - 1) / chunk : 0;
  const size_t MN = (size_t)M * N;
  if (partials_len < (size_t)chunks * MN) {
    free(partials);
    partials = malloc((size_t)chunks * MN * 4);
    partials_len = partials ? (size_t)chunks * MN : 0;
    if (!partials) return -1;
  }
  gemv_job j = {current, A, B, NULL, partials, M, N, K, 0, threads < chunks ? threads : chunks, chunk, chunks, 0};
  if (j.threads > 0) pool_run(j.threads, gemv_worker, &j);
  // C = bias + the partials in chunk order (one pass per chunk: the inner loop vectorizes)
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) C[(size_t)m * N + n] = bias ? bias[n] : 0.0f;
  for (int c = 0; c < chunks; c++) {
    const float *p = partials + (size_t)c * MN;
    for (size_t i = 0; i < MN; i++) C[i] += p[i];
  }
  return 0;
}

/* B = W^T, few rows: 4 chunks of W's rows a thread (so the threads get equal shares), multiples of 16, at least 64 rows. */
static int gemv_transposed(const float *A, const float *W, float *C, int M, int N, int K, const float *bias, int threads) {
  int chunk = (N + 4 * threads - 1) / (4 * threads);
  chunk = chunk < 64 ? 64 : (chunk + 15) / 16 * 16;
  gemv_job j = {current, A, W, bias, C, M, N, K, 1, threads, chunk, (N + chunk - 1) / chunk, 0};
  if (j.threads > j.chunks) j.threads = j.chunks;
  pool_run(j.threads, gemv_worker, &j);
  return 0;
}

static int gemm(const float *A, const float *B, float *C, int M, int N, int K, int transB, const float *bias, int threads) {
  const int nr = current->nr();
  const int panels = (N + nr - 1) / nr;
  const int row_tiles = (M + TILE_ROWS - 1) / TILE_ROWS;
  // Columns a tile covers: whole panels, at most 8 (C and B blocks in L2) and at most what gives
  // ~4 tiles a thread; among those, the most panels that keep the busiest thread's share smallest
  // (a thread claims ceil(tiles / threads) tiles: 72 panels in tiles of 8 split 5:4 on 2 threads,
  // in tiles of 6 evenly).
  int per = panels * row_tiles / (4 * threads);
  const int cap = per < 1 ? 1 : per > 8 ? 8 : per;
  int tile_panels = 1;
  long best = -1;
  for (int tp = cap < panels ? cap : panels; tp >= 1; tp--) {
    const long tiles = (long)((panels + tp - 1) / tp) * row_tiles;
    const long busiest = (tiles + threads - 1) / threads * tp; /* panels x row tiles the busiest thread computes */
    if (best < 0 || busiest < best) best = busiest, tile_panels = tp;
  }
  gemm_job j = {current, A, B, bias, C, M, N, K, transB, threads, row_tiles, (panels + tile_panels - 1) / tile_panels, tile_panels * nr, 0, 0};
  if (j.threads > j.row_tiles * j.col_tiles) j.threads = j.row_tiles * j.col_tiles;
  pool_run(j.threads, gemm_worker, &j);
  return atomic_load(&j.failed) ? -1 : 0;
}

static int matmul_locked(const float *A, const float *B, float *C, int M, int N, int K, int transB, const float *bias) {
  (void)tn_current_isa(); /* picks the best instruction set on first use */
  if (M == 0 || N == 0) return 0;
  const int threads = (double)M * N * K >= THREAD_MIN_MACS ? thread_count : 1;
  if (M > TN_GEMV_MAX_ROWS) return gemm(A, B, C, M, N, K, transB, bias, threads);
  return transB ? gemv_transposed(A, B, C, M, N, K, bias, threads) : gemv_rowmajor(A, B, C, M, N, K, bias, threads);
}

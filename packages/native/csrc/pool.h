/* A persistent pool of worker threads that run one job at a time with the calling thread. */
#ifndef TESSERA_POOL_H
#define TESSERA_POOL_H

/*
 * fn(ctx, t) runs once on each of `threads` threads (t = 0 on the caller); returns when all are
 * done. One caller at a time: the addon's entry points hold tn_lock (gemm.h) around it.
 */
void pool_run(int threads, void (*fn)(void *ctx, int t), void *ctx);
/*
 * The int the other thread pools of the process (Tessera's WebAssembly pools) read to know who
 * dispatched last: this pool writes POOL_ID into it at each job and its workers spin only while
 * it still holds POOL_ID (then sleep), as theirs do with their ids. NULL: not shared.
 */
#define POOL_ID (-2)
void pool_set_spin_flag(int *flag);
/* Workers the pool has started (they wait between jobs, spinning briefly, then sleeping). */
int pool_workers(void);
#endif

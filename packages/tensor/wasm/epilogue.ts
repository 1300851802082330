// Products with the bias fused in, over weights packed once (pack_b / pack_bt panels kept
// resident in WASM memory, src/backend/cpu/wasm/runtime.ts):
//   gemm_rows_bias: C[m0:m1, :] = bias + A[m0:m1, :] B   (C starts at the bias instead of 0:
//                   the epilogue costs no extra pass over C)
//   gemm_cols_bias: C = bias + A B, threads claiming chunks of column panels
//   gemv_packed_claimed: gemv_packed over all columns, threads claiming chunks of them
//   gemv_packed:    y[j0:j1] = bias + x B, reading B's 8-column panels Bp[q][k][0..7] in order
//                   (one sequential stream per panel, accumulators in registers)
// bias = 0 means none. Sums run over k in the same order whatever the thread split.
import { madd4 } from "./vmath";
import { gemm_accumulate, gemm_accumulate_cols } from "./gemm";

/** Lane i (0..3) of an f32x4 (extract_lane takes a constant index). */
function lane(v: v128, i: i32): f32 {
  if (i == 0) return f32x4.extract_lane(v, 0);
  if (i == 1) return f32x4.extract_lane(v, 1);
  if (i == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/** Rows [m0, m1), columns [j0, j1) of C [*, N] set to bias[j0:j1] (or 0). */
function fill_bias(c: usize, bias: usize, m0: i32, m1: i32, N: i32, j0: i32, j1: i32): void {
  const bytes = <usize>(j1 - j0) << 2;
  for (let i = m0; i < m1; i++) {
    const o = c + ((<usize>i * N + j0) << 2);
    if (bias) memory.copy(o, bias + (<usize>j0 << 2), bytes);
    else memory.fill(o, 0, bytes);
  }
}

/** C[m0:m1, 0:N] = bias + A[m0:m1, :] B from Ap (pack_a of these rows) and Bp (pack_b / pack_bt). */
export function gemm_rows_bias(ap: usize, bp: usize, c: usize, m0: i32, m1: i32, N: i32, K: i32, scratch: usize, bias: usize): void {
  fill_bias(c, bias, m0, m1, N, 0, N);
  gemm_accumulate(ap, bp, c, m0, m1, N, K, scratch);
}

/** The first index of the next unclaimed chunk (the shared-memory build: an atomic add; the plain one runs on one thread). */
// @ts-ignore: decorator
@inline
function claim(counter: usize, chunk: i32): i32 {
  if (ASC_FEATURE_THREADS) return atomic.add<i32>(counter, chunk);
  const q = load<i32>(counter);
  store<i32>(counter, q + chunk);
  return q;
}

/**
 * C[0:M, 0:N] = bias + A B, the column panels taken `chunk` at a time by whichever thread is free:
 * the i32 at `counter` (0 before the call) is the next unclaimed panel. Ap is pack_a of all M rows;
 * every thread calls this with its own `scratch`. Each chunk runs its KC blocks in order, as
 * gemm_accumulate does, so the results do not depend on which thread took which chunk. Threads
 * splitting the columns read each weight panel once between them (splitting rows, each thread
 * reads all of B) and one that runs late takes fewer chunks instead of holding the others up.
 */
export function gemm_cols_bias(ap: usize, bp: usize, c: usize, M: i32, N: i32, K: i32, scratch: usize, bias: usize, counter: usize, chunk: i32): void {
  const panels = (N + 7) >> 3;
  for (;;) {
    const q0 = claim(counter, chunk);
    if (q0 >= panels) return;
    const q1 = min(panels, q0 + chunk);
    fill_bias(c, bias, 0, M, N, q0 << 3, min(N, q1 << 3));
    gemm_accumulate_cols(ap, bp, c, 0, M, N, K, scratch, q0, q1);
  }
}

/**
 * y[j0:j1] = bias[j0:j1] + sum_k x[k] B[k, j0:j1] from the packed panels (j0 a multiple of 8).
 * Whole groups of 32 columns read four panels at once (four sequential streams: one core pulls
 * ~1.3x the bytes per second from memory that one stream gets, and decode is memory-bound);
 * the rest one panel at a time, where two accumulator pairs (even and odd k) hide the add latency.
 */
export function gemv_packed(x: usize, bp: usize, y: usize, K: i32, N: i32, j0: i32, j1: i32, bias: usize): void {
  let j = j0;
  for (; j + 32 <= j1; j += 32) gemv_packed4(x, bp + ((<usize>(j >> 3) * K) << 5), y + (<usize>j << 2), K, bias ? bias + (<usize>j << 2) : 0);
  gemv_packed1(x, bp, y, K, j, j1, bias);
}

/**
 * y[0:N] = bias + x B as gemv_packed, the columns taken `chunk` at a time (a multiple of 32) by
 * whichever thread is free: the i32 at `counter` (0 before the call) is the next unclaimed column.
 * Every full group of 32 columns still goes through gemv_packed4 and only the last N % 32 through
 * gemv_packed1, as in one call over [0, N): the results do not depend on the split.
 */
export function gemv_packed_claimed(x: usize, bp: usize, y: usize, K: i32, N: i32, bias: usize, counter: usize, chunk: i32): void {
  for (;;) {
    const j0 = claim(counter, chunk);
    if (j0 >= N) return;
    gemv_packed(x, bp, y, K, N, j0, min(N, j0 + chunk), bias);
  }
}

/** y[0:32] = bias[0:32] + x B for the four consecutive panels at p (panel stride K * 32 bytes). */
function gemv_packed4(x: usize, p: usize, y: usize, K: i32, bias: usize): void {
  const ps = <usize>K << 5;
  const end = p + ps;
  let xp = x;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  for (; p < end; p += 32, xp += 4) {
    const xs = v128.load32_splat(xp);
    a0 = madd4(xs, v128.load(p), a0);
    a1 = madd4(xs, v128.load(p, 16), a1);
    b0 = madd4(xs, v128.load(p + ps), b0);
    b1 = madd4(xs, v128.load(p + ps, 16), b1);
    c0 = madd4(xs, v128.load(p + 2 * ps), c0);
    c1 = madd4(xs, v128.load(p + 2 * ps, 16), c1);
    d0 = madd4(xs, v128.load(p + 3 * ps), d0);
    d1 = madd4(xs, v128.load(p + 3 * ps, 16), d1);
  }
  if (bias) {
    a0 = f32x4.add(a0, v128.load(bias)); a1 = f32x4.add(a1, v128.load(bias, 16));
    b0 = f32x4.add(b0, v128.load(bias, 32)); b1 = f32x4.add(b1, v128.load(bias, 48));
    c0 = f32x4.add(c0, v128.load(bias, 64)); c1 = f32x4.add(c1, v128.load(bias, 80));
    d0 = f32x4.add(d0, v128.load(bias, 96)); d1 = f32x4.add(d1, v128.load(bias, 112));
  }
  v128.store(y, a0); v128.store(y, a1, 16); v128.store(y, b0, 32); v128.store(y, b1, 48);
  v128.store(y, c0, 64); v128.store(y, c1, 80); v128.store(y, d0, 96); v128.store(y, d1, 112);
}

/** gemv_packed one panel (8 columns) at a time, for columns [j0, j1). */
function gemv_packed1(x: usize, bp: usize, y: usize, K: i32, j0: i32, j1: i32, bias: usize): void {
  for (let j = j0; j < j1; j += 8) {
    let p = bp + ((<usize>(j >> 3) * K) << 5);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    let k = 0;
    for (; k + 2 <= K; k += 2) {
      const xe = v128.load32_splat(x + (<usize>k << 2));
      const xo = v128.load32_splat(x + (<usize>k << 2), 4);
      a0 = madd4(xe, v128.load(p), a0);
      a1 = madd4(xe, v128.load(p, 16), a1);
      b0 = madd4(xo, v128.load(p, 32), b0);
      b1 = madd4(xo, v128.load(p, 48), b1);
      p += 64;
    }
    if (k < K) {
      const xe = v128.load32_splat(x + (<usize>k << 2));
      a0 = madd4(xe, v128.load(p), a0);
      a1 = madd4(xe, v128.load(p, 16), a1);
    }
    let lo = f32x4.add(a0, b0);
    let hi = f32x4.add(a1, b1);
    const o = y + (<usize>j << 2);
    if (j + 8 <= j1) {
      if (bias) {
        lo = f32x4.add(lo, v128.load(bias + (<usize>j << 2)));
        hi = f32x4.add(hi, v128.load(bias + (<usize>j << 2), 16));
      }
      v128.store(o, lo);
      v128.store(o, hi, 16);
    } else {
      // The last panel's padding columns (past N) are not stored.
      const w = j1 - j;
      for (let c = 0; c < w; c++) {
        let v = c < 4 ? lane(lo, c) : lane(hi, c - 4);
        if (bias) v += load<f32>(bias + (<usize>(j + c) << 2));
        store<f32>(o + (<usize>c << 2), v);
      }
    }
  }
}

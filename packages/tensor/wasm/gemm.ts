// AssemblyScript source of the cpu backend's SIMD kernels (compiled by scripts/build-wasm.mjs;
// the bytes are embedded in src/backend/cpu/wasm/binary.ts). Memory is imported: the caller
// owns the layout, and threads share one memory.
//
// GEMM (the GotoBLAS/BLIS scheme, as the TypeScript reference in ../src/backend/cpu/matmul.ts):
//   pack_b: B [K, N] row-major  -> panels of 8 columns, Bp[q][k][0..7] (zero padded)
//   pack_bt: the same panels from W [N, K] row-major when B = W^T (nn.Linear weights)
//   pack_a: A rows [m0, m1)     -> panels of 4 rows,    Ap[p][k][0..3] (zero padded)
//   gemm_rows: C[m0:m1, :] = sum over KC-blocks of 4x8 register tiles (8 f32x4 accumulators).
// Each step is vmath's madd4: a mul and an add in SIMD128 (no fused multiply-add there), one
// f32x4.relaxed_madd in the relaxed-SIMD build (one FMA instruction where the hardware has FMA).
import { madd4 } from "./vmath";

const KC: i32 = 256;
/** Column panels (8 columns each) per chunk of gemm_accumulate: 64 rows x 1024 columns of C = 256 KiB. */
const NC_PANELS: i32 = 128;

export function pack_b(b: usize, K: i32, N: i32, bp: usize): void {
  const panels = (N + 7) >> 3;
  let o = bp;
  for (let q = 0; q < panels; q++) {
    const j0 = q << 3;
    const w = min(8, N - j0);
    for (let k = 0; k < K; k++) {
      const row = b + ((<usize>k * N + j0) << 2);
      if (w == 8) {
        v128.store(o, v128.load(row));
        v128.store(o, v128.load(row, 16), 16);
      } else {
        for (let c = 0; c < 8; c++) store<f32>(o + (c << 2), c < w ? load<f32>(row + (c << 2)) : 0);
      }
      o += 32;
    }
  }
}

/** As pack_b, for B = W^T with W [N, K] row-major (nn.Linear's weight): Bp[q][k][c] = W[8q + c, k]. */
export function pack_bt(w: usize, K: i32, N: i32, bp: usize): void {
  const panels = (N + 7) >> 3;
  let o = bp;
  for (let q = 0; q < panels; q++) {
    const j0 = q << 3;
    const h = min(8, N - j0);
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < 8; c++) store<f32>(o + (c << 2), c < h ? load<f32>(w + ((<usize>(j0 + c) * K + k) << 2)) : 0);
      o += 32;
    }
  }
}

export function pack_a(a: usize, K: i32, m0: i32, m1: i32, ap: usize): void {
  let o = ap;
  for (let i = m0; i < m1; i += 4) {
    const r0 = a + ((<usize>i * K) << 2);
    const h = min(4, m1 - i);
    for (let k = 0; k < K; k++) {
      for (let r = 0; r < 4; r++) store<f32>(o + (r << 2), r < h ? load<f32>(r0 + ((<usize>r * K + k) << 2)) : 0);
      o += 16;
    }
  }
}

/** dst[0:4, 0:8] (row stride ldd floats) += Ap panel x Bp panel over kc. (Exported for apps/bench/wasm/roofline.ts.) */
export function tile(ap: usize, bp: usize, dst: usize, kc: i32, ldd: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd4(a, b0, c00); c01 = madd4(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd4(a, b0, c10); c11 = madd4(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd4(a, b0, c20); c21 = madd4(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd4(a, b0, c30); c31 = madd4(a, b1, c31);
    ap += 16;
    bp += 32;
  }
  const ld = <usize>ldd << 2;
  let r = dst;
  v128.store(r, f32x4.add(v128.load(r), c00)); v128.store(r, f32x4.add(v128.load(r, 16), c01), 16); r += ld;
  v128.store(r, f32x4.add(v128.load(r), c10)); v128.store(r, f32x4.add(v128.load(r, 16), c11), 16); r += ld;
  v128.store(r, f32x4.add(v128.load(r), c20)); v128.store(r, f32x4.add(v128.load(r, 16), c21), 16); r += ld;
  v128.store(r, f32x4.add(v128.load(r), c30)); v128.store(r, f32x4.add(v128.load(r, 16), c31), 16);
}

/**
 * C[m0:m1, 0:N] = A[m0:m1, :] B, from Ap (pack_a of exactly these rows) and Bp (pack_b).
 * Edge tiles (rows past m1 or columns past N) go through a 4x8 scratch tile.
 */
export function gemm_rows(ap: usize, bp: usize, c: usize, m0: i32, m1: i32, N: i32, K: i32, scratch: usize): void {
  memory.fill(c + ((<usize>m0 * N) << 2), 0, <usize>(m1 - m0) * N * 4);
  gemm_accumulate(ap, bp, c, m0, m1, N, K, scratch);
}

/**
 * C[m0:m1, 0:N] += A[m0:m1, :] B (as gemm_rows, without zeroing C first: epilogue.ts starts C at the bias).
 * Columns go in chunks of NC_PANELS panels, each through every KC block before the next chunk,
 * so the C block the tiles add into stays in L2 (GPT-2's LM head, N = 50257: 64 rows of C are
 * 12.8 MB, streamed from L3 once per KC block before; one thread 32.5 -> 41.7 GFLOP/s, two 56.6 -> 70.5). Each element still
 * sums its KC blocks in order: the results do not change.
 */
export function gemm_accumulate(ap: usize, bp: usize, c: usize, m0: i32, m1: i32, N: i32, K: i32, scratch: usize): void {
  const panels = (N + 7) >> 3;
  for (let q0 = 0; q0 < panels; q0 += NC_PANELS)
    gemm_accumulate_cols(ap, bp, c, m0, m1, N, K, scratch, q0, min(panels, q0 + NC_PANELS));
}

/** gemm_accumulate for panels [q0, q1) (columns [8 q0, min(N, 8 q1))). */
export function gemm_accumulate_cols(ap: usize, bp: usize, c: usize, m0: i32, m1: i32, N: i32, K: i32, scratch: usize, q0: i32, q1: i32): void {
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let q = q0; q < q1; q++) {
      const j0 = q << 3;
      const w = min(8, N - j0);
      const bq = bp + ((<usize>q * K + k0) << 5);
      for (let i = m0; i < m1; i += 4) {
        const h = min(4, m1 - i);
        const aq = ap + ((<usize>((i - m0) >> 2) * K + k0) << 4);
        if (h == 4 && w == 8) {
          tile(aq, bq, c + ((<usize>i * N + j0) << 2), kc, N);
        } else {
          memory.fill(scratch, 0, 128);
          tile(aq, bq, scratch, kc, 8);
          for (let r = 0; r < h; r++) {
            for (let cc = 0; cc < w; cc++) {
              const p = c + ((<usize>(i + r) * N + j0 + cc) << 2);
              store<f32>(p, load<f32>(p) + load<f32>(scratch + ((<usize>r * 8 + cc) << 2)));
            }
          }
        }
      }
    }
  }
}

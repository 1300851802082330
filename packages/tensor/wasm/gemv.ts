// Matrix-vector kernels for products with few rows (decoding: one token through a weight).
// A GEMM packs B first; for M <= 4 the packing pass costs as much as the product, so these read
// the weight once, in its stored layout:
//   gemv_n: y[j0:j1] = x[0:K] B[0:K, j0:j1]   B [K, N] row-major (x @ W, GPT-2's Conv1D)
//   gemv_t: y[n0:n1] = W[n0:n1, 0:K] x[0:K]   W [N, K] row-major (x @ W^T, nn.Linear)
// Threads split the output columns/rows; sums run in the same order whatever the split.
import { madd4 } from "./vmath";

/**
 * y[j0:j1] = sum_k x[k] B[k, j0:j1]; y is zeroed first. Four rows of B per pass over y, so
 * the accumulator is loaded and stored once per four multiply-adds (the weight streams once).
 */
export function gemv_n(x: usize, b: usize, y: usize, K: i32, N: i32, j0: i32, j1: i32): void {
  memory.fill(y + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
  const j4 = j0 + ((j1 - j0) & ~3);
  const ld = <usize>N << 2;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const a0 = f32x4.splat(load<f32>(x + (<usize>k << 2)));
    const a1 = f32x4.splat(load<f32>(x + (<usize>k << 2), 4));
    const a2 = f32x4.splat(load<f32>(x + (<usize>k << 2), 8));
    const a3 = f32x4.splat(load<f32>(x + (<usize>k << 2), 12));
    const r0 = b + (<usize>k * N << 2);
    for (let j = j0; j < j4; j += 4) {
      const o = <usize>j << 2;
      let acc = v128.load(y + o);
      acc = madd4(a0, v128.load(r0 + o), acc);
      acc = madd4(a1, v128.load(r0 + ld + o), acc);
      acc = madd4(a2, v128.load(r0 + 2 * ld + o), acc);
      acc = madd4(a3, v128.load(r0 + 3 * ld + o), acc);
      v128.store(y + o, acc);
    }
    for (let j = j4; j < j1; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(y + o);
      for (let r = 0; r < 4; r++) v += load<f32>(x + (<usize>(k + r) << 2)) * load<f32>(r0 + <usize>r * ld + o);
      store<f32>(y + o, v);
    }
  }
  for (; k < K; k++) {
    const xk = load<f32>(x + (<usize>k << 2));
    const row = b + (<usize>k * N << 2);
    for (let j = j0; j < j1; j++) {
      const o = <usize>j << 2;
      store<f32>(y + o, load<f32>(y + o) + xk * load<f32>(row + o));
    }
  }
}

/** y[n] = W[n, :] . x for n in [n0, n1): four f32x4 accumulators per row. */
export function gemv_t(x: usize, w: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const k16 = K & ~15;
  for (let n = n0; n < n1; n++) {
    const row = w + (<usize>n * K << 2);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let k = 0;
    for (; k < k16; k += 16) {
      const o = <usize>k << 2;
      s0 = madd4(v128.load(row + o), v128.load(x + o), s0);
      s1 = madd4(v128.load(row + o, 16), v128.load(x + o, 16), s1);
      s2 = madd4(v128.load(row + o, 32), v128.load(x + o, 32), s2);
      s3 = madd4(v128.load(row + o, 48), v128.load(x + o, 48), s3);
    }
    const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    let acc = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    for (; k < K; k++) acc += load<f32>(row + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(y + (<usize>n << 2), acc);
  }
}

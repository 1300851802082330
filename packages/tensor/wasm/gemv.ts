// Matrix-vector kernels for products with few rows (decoding: one token through a weight).
// A GEMM packs B first; for M <= 4 the packing pass costs as much as the product, so these read
// the weight once, in its stored layout:
//   gemv_n: y[j0:j1] = x[0:K] B[0:K, j0:j1]   B [K, N] row-major (x @ W, GPT-2's Conv1D)
//   gemv_t: y[n0:n1] = W[n0:n1, 0:K] x[0:K]   W [N, K] row-major (x @ W^T, nn.Linear)
// Threads split the output columns/rows; sums run in the same order whatever the split.

/** y[j0:j1] = sum_k x[k] B[k, j0:j1]; y is zeroed first. */
export function gemv_n(x: usize, b: usize, y: usize, K: i32, N: i32, j0: i32, j1: i32): void {
  memory.fill(y + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
  const j4 = j0 + ((j1 - j0) & ~15);
  for (let k = 0; k < K; k++) {
    const xk = load<f32>(x + (<usize>k << 2));
    if (xk == 0) continue;
    const a = f32x4.splat(xk);
    const row = b + (<usize>k * N << 2);
    let j = j0;
    for (; j < j4; j += 16) {
      const o = <usize>j << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(a, v128.load(row + o))));
      v128.store(y + o, f32x4.add(v128.load(y + o, 16), f32x4.mul(a, v128.load(row + o, 16))), 16);
      v128.store(y + o, f32x4.add(v128.load(y + o, 32), f32x4.mul(a, v128.load(row + o, 32))), 32);
      v128.store(y + o, f32x4.add(v128.load(y + o, 48), f32x4.mul(a, v128.load(row + o, 48))), 48);
    }
    for (; j < j1; j++) {
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
      s0 = f32x4.add(s0, f32x4.mul(v128.load(row + o), v128.load(x + o)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(row + o, 16), v128.load(x + o, 16)));
      s2 = f32x4.add(s2, f32x4.mul(v128.load(row + o, 32), v128.load(x + o, 32)));
      s3 = f32x4.add(s3, f32x4.mul(v128.load(row + o, 48), v128.load(x + o, 48)));
    }
    const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    let acc = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    for (; k < K; k++) acc += load<f32>(row + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(y + (<usize>n << 2), acc);
  }
}

/** Small dense float64 linear algebra for PTQ (row-major n x n matrices). */
import { fail } from "../errors";

/** Lower Cholesky factor L (A = L L^T) of a symmetric positive definite matrix. */
export function cholesky(a: Float64Array, n: number, op = "cholesky"): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] ** 2;
    if (!(d > 0)) fail(op, `matrix is not positive definite at column ${j} (pivot ${d}); raise the damping`);
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

/** A^{-1} from its lower Cholesky factor (torch.cholesky_inverse). */
export function choleskyInverse(L: Float64Array, n: number): Float64Array {
  // Inverse of L (lower triangular), then A^{-1} = L^{-T} L^{-1}.
  const Li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    Li[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * n + k] * Li[k * n + j];
      Li[i * n + j] = s / L[i * n + i];
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += Li[k * n + i] * Li[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** The upper Cholesky factor U (A = U^T U). */
export function choleskyUpper(a: Float64Array, n: number, op?: string): Float64Array {
  const L = cholesky(a, n, op);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) U[i * n + j] = L[j * n + i];
  return U;
}

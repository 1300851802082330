/**
 * Small dense float64 linear algebra for discretising continuous-time systems (row-major
 * number[][]): the matrix exponential by scaling and squaring with a Taylor series, and
 * zero-order hold through Van Loan's augmented matrix:
 *   expm([[A, B], [0, 0]] dt) = [[exp(A dt), int_0^dt exp(A s) ds B], [0, I]]
 * so Bbar needs no inverse of A (Van Loan 1978, "Computing integrals involving the matrix
 * exponential").
 */

export type Matrix = number[][];

export function matmul(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const m = b[0].length;
  const k = b.length;
  const out: Matrix = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const v = a[i][p];
      if (v !== 0) for (let j = 0; j < m; j++) out[i][j] += v * b[p][j];
    }
  return out;
}

export function identity(n: number): Matrix {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

/** exp(A): scale A by 2^-s so its norm is at most 1/2, sum 30 Taylor terms, square s times. */
export function expm(A: Matrix): Matrix {
  const n = A.length;
  const norm = Math.max(...A.map((row) => row.reduce((s, v) => s + Math.abs(v), 0))); // infinity norm
  const s = Math.max(0, Math.ceil(Math.log2(norm / 0.5)));
  const scaled = A.map((row) => row.map((v) => v / 2 ** s));
  let term = identity(n);
  const sum = identity(n);
  for (let k = 1; k <= 30; k++) {
    term = matmul(term, scaled).map((row) => row.map((v) => v / k));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sum[i][j] += term[i][j];
  }
  let out = sum;
  for (let i = 0; i < s; i++) out = matmul(out, out);
  return out;
}

/** Zero-order hold with step dt: Abar = exp(A dt), Bbar = int_0^dt exp(A s) ds B. A [n, n], B [n]. */
export function zeroOrderHold(A: Matrix, B: number[], dt = 1): { Abar: Matrix; Bbar: number[] } {
  const n = A.length;
  const M: Matrix = Array.from({ length: n + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i < n ? (j < n ? A[i][j] : B[i]) * dt : 0)));
  const E = expm(M);
  return { Abar: E.slice(0, n).map((row) => row.slice(0, n)), Bbar: E.slice(0, n).map((row) => row[n]) };
}

import { nativeInfo } from "../src/index";

/** The addon's status; the native suites skip, saying why, when it did not build (CI fails on any skip). */
export const info = nativeInfo();
if (!info.available) console.log(`[tessera] @tessera/native tests skipped: ${info.reason}`);

/** Deterministic values in [-1, 1) (a 32-bit LCG): the same inputs on every run. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * The product by its definition in float64, and for each element the float32 error bound of a
 * K-term dot product (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1):
 * |fl(c) - c| <= gamma_K sum_k |a_ik b_kj|, gamma_K ~ K u, u = 2^-24; +1 term for the bias.
 */
export function reference(a: Float32Array, b: Float32Array, M: number, N: number, K: number, transB: boolean, bias: Float32Array | null) {
  const c = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  const u = 2 ** -24;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      let mag = bias ? Math.abs(bias[j]) : 0;
      for (let k = 0; k < K; k++) {
        const p = a[i * K + k] * (transB ? b[j * K + k] : b[k * N + j]);
        s += p;
        mag += Math.abs(p);
      }
      c[i * N + j] = s;
      bound[i * N + j] = (K + 2) * u * mag + 1e-30;
    }
  return { c, bound };
}

/** The largest error relative to its bound (<= 1 passes), and where. */
export function worst(actual: Float32Array, ref: { c: Float64Array; bound: Float64Array }): { ratio: number; at: number } {
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < ref.c.length; i++) {
    const r = Math.abs(actual[i] - ref.c[i]) / ref.bound[i];
    if (!(r <= ratio)) {
      ratio = r;
      at = i;
    }
  }
  return { ratio, at };
}

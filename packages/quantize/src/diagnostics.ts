/**
 * Outlier and error measures ("Quantizable Transformers", Bondarenko et al. 2023; SQNR):
 *  - kurtosis E[(x - mu)^4] / sigma^4 (3 for a Gaussian; outliers push it far higher);
 *  - infinity norm max |x|;
 *  - SQNR = 10 log10(sum x^2 / sum (x - x^)^2) in dB.
 */
import { fail } from "./errors";

export function kurtosis(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) fail("kurtosis", `needs at least 2 values, got ${n}`);
  let mu = 0;
  for (let i = 0; i < n; i++) mu += x[i] / n;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mu;
    m2 += (d * d) / n;
    m4 += (d * d * d * d) / n;
  }
  return m4 / (m2 * m2);
}

export function infinityNorm(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

export function sqnr(x: ArrayLike<number>, xq: ArrayLike<number>): number {
  if (x.length !== xq.length) fail("sqnr", `lengths differ: ${x.length} vs ${xq.length}`);
  let s = 0;
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i] * x[i];
    e += (x[i] - xq[i]) ** 2;
  }
  return 10 * Math.log10(s / e);
}

/** Shared test helpers: binomial bounds and host reads. */
import type { Tensor } from "@tessera/tensor";

/** |observed - n p| <= k sigma, sigma = sqrt(n p (1 - p)) (k = 5: a false alarm about once in 1.7 million). */
export function withinBinomial(observed: number, n: number, p: number, k = 5): { ok: boolean; bound: number; expected: number } {
  const expected = n * p;
  const bound = k * Math.sqrt(n * p * (1 - p));
  return { ok: Math.abs(observed - expected) <= bound, bound, expected };
}

export function rows(t: Tensor): number[][] {
  return t.arraySync(2);
}

export function flat(t: Tensor): number[] {
  return Array.from(t.dataSync(), Number);
}

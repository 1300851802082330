/**
 * Polynomial feature maps for associative memories (ATLAS, Behrouz et al. 2025, section 3:
 * higher-order features raise a matrix memory's capacity from about d to about d^p pairs).
 *
 * phi_p(x) stacks all monomials of degree 1 .. p of x [..., K] (each multiset of indices once),
 * weighted so that phi_p(x) . phi_p(y) = sum_{d=1..p} (x . y)^d / d!, the Taylor expansion of
 * exp(x . y) - 1: the monomial x_{i1} ... x_{id} with index counts c gets weight
 * sqrt(d! / prod(c!)) / sqrt(d!) = 1 / sqrt(prod(c!)).
 * Width: C(K + p, p) - 1.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fail } from "../util";

interface Monomials {
  /** For each monomial of degree d: the index of its degree d-1 prefix and its last factor. */
  prefix: Int32Array;
  last: Int32Array;
  weight: Float32Array;
}

/** Non-decreasing index tuples of degree d built from those of degree d - 1. */
function nextDegree(prev: number[][], K: number): number[][] {
  const out: number[][] = [];
  for (const p of prev) for (let j = p.length ? p[p.length - 1] : 0; j < K; j++) out.push([...p, j]);
  return out;
}

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

/** The width of phi_p for K inputs. */
export function polynomialWidth(K: number, degree: number): number {
  let w = 0;
  let count = 1;
  for (let d = 1; d <= degree; d++) {
    count = (count * (K + d - 1)) / d; // C(K + d - 1, d)
    w += count;
  }
  return Math.round(w);
}

/** phi_p(x): [..., K] -> [..., C(K + p, p) - 1]. */
export function polynomialFeatures(x: Tensor, degree: number): Tensor {
  if (!Number.isInteger(degree) || degree < 1) fail("polynomialFeatures", `degree must be a positive integer, got ${degree}`);
  if (degree === 1) return x;
  const K = x.shape[x.rank - 1];
  const parts: Tensor[] = [x];
  let tuples: number[][] = Array.from({ length: K }, (_, i) => [i]);
  let prevFeat = x; // unweighted monomials of the previous degree
  for (let d = 2; d <= degree; d++) {
    const next = nextDegree(tuples, K);
    const index = new Map(tuples.map((t, i) => [t.join(), i]));
    const m: Monomials = { prefix: new Int32Array(next.length), last: new Int32Array(next.length), weight: new Float32Array(next.length) };
    next.forEach((t, i) => {
      m.prefix[i] = index.get(t.slice(0, -1).join())!;
      m.last[i] = t[t.length - 1];
      const counts = new Map<number, number>();
      for (const v of t) counts.set(v, (counts.get(v) ?? 0) + 1);
      m.weight[i] = 1 / Math.sqrt([...counts.values()].reduce((a, c) => a * factorial(c), 1));
    });
    const idx = (a: Int32Array) => T.tensor(a, { dtype: "int32", backend: x.backend });
    const feat = T.mul(T.indexSelect(prevFeat, -1, idx(m.prefix)), T.indexSelect(x, -1, idx(m.last))); // [..., n_d]
    parts.push(T.mul(feat, T.tensor(m.weight, { backend: x.backend })));
    prevFeat = feat;
    tuples = next;
  }
  return T.concat(parts, -1);
}

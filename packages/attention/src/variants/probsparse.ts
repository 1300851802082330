/**
 * ProbSparse self-attention (Zhou et al. 2021, "Informer"). Only the u = c ceil(ln Tq) most
 * "active" queries get full softmax attention; the rest ("lazy" queries, whose attention is
 * close to uniform) output mean(V), or under a causal mask the running sum cumsum(V) at their
 * position (exactly what the reference code does). A query's activity is the max-mean gap of
 * its logits over a random sample of c ceil(ln Tk) keys:
 *   M(q_i) = max_j s_ij - (sum_j s_ij) / Tk,   j in the sample  (the code divides by Tk).
 * With u = Tq (factor large enough) it is exact softmax attention.
 */
import {
  arange,
  cumsum,
  expand,
  gather,
  indexSelect,
  le,
  matmul,
  max,
  mean,
  mul,
  randint,
  reshape,
  scatterAdd,
  sub,
  sum,
  tidy,
  topk,
  unsqueeze,
  type Generator,
  type Tensor,
} from "@tessera/tensor";
import { scaledDotProductAttention } from "../sdpa";
import { checkQKV, fail } from "../shapes";
import { repeatKV } from "./linear";

export interface ProbSparseOptions {
  /** The sampling factor c (default 5). */
  factor?: number;
  causal?: boolean;
  scale?: number;
  seed?: number | Generator;
}

export function probSparseAttention(q: Tensor, k: Tensor, v: Tensor, opts: ProbSparseOptions = {}): Tensor {
  const d = checkQKV("probSparseAttention", q, k, v);
  if (opts.causal && d.Tq !== d.Tk) fail("probSparseAttention", "causal ProbSparse needs Tq = Tk");
  const c = opts.factor ?? 5;
  const scale = opts.scale ?? 1 / Math.sqrt(d.D);
  const u = Math.min(d.Tq, c * Math.ceil(Math.log(d.Tq)));
  const nSample = Math.min(d.Tk, c * Math.ceil(Math.log(d.Tk)));
  return tidy(() => {
    const kk = repeatKV(k, d.G);
    const vv = repeatKV(v, d.G);
    // Sample keys per query (shared over batch and heads, as the reference code).
    const sample = randint(0, d.Tk, [d.Tq, nSample], { seed: opts.seed ?? 0, backend: q.backend }); // [Tq, S]
    const kSample = reshape(indexSelect(kk, 2, reshape(sample, [d.Tq * nSample])), [d.B, d.H, d.Tq, nSample, d.D]);
    const sSample = reshape(matmul(kSample, unsqueeze(q, -1)), [d.B, d.H, d.Tq, nSample]); // q_i . k_j
    const activity = sub(max(sSample, -1), mul(sum(sSample, -1), 1 / d.Tk)); // [B, H, Tq]
    const top = topk(activity, u, -1).indices; // [B, H, u]
    // Lazy output for every query: mean(V) or, causal, cumsum(V) at the query's position.
    const lazy = opts.causal ? cumsum(vv, 2) : expand(mean(vv, 2, { keepdims: true }), [d.B, d.H, d.Tq, d.Dv]);
    // Full attention for the active queries.
    const qTop = gather(q, 2, expand(unsqueeze(top, -1), [d.B, d.H, u, d.D])); // [B, H, u, D]
    const activeOut = activeAttention(qTop, kk, vv, top, d.Tk, scale, !!opts.causal); // [B, H, u, Dv]
    // Scatter active rows over the lazy output: out = lazy + onehot(top) * (active - lazy[top]).
    const idx = expand(unsqueeze(top, -1), [d.B, d.H, u, d.Dv]);
    const delta = sub(activeOut, gather(lazy, 2, idx));
    return scatterAdd(lazy, 2, idx, delta);
  });
}

/** Softmax attention of selected queries (their positions `pos` [B, H, u] set the causal limit). */
function activeAttention(qTop: Tensor, k: Tensor, v: Tensor, pos: Tensor, Tk: number, scale: number, causal: boolean): Tensor {
  if (!causal) return scaledDotProductAttention(qTop, k, v, { scale, implementation: "reference" });
  const kp = reshape(arange(Tk, undefined, 1, { backend: qTop.backend }), [1, 1, 1, Tk]);
  const mask = le(kp, unsqueeze(pos, -1)); // [B, H, u, Tk]: key j <= the query's position
  return scaledDotProductAttention(qTop, k, v, { scale, mask, implementation: "reference" });
}

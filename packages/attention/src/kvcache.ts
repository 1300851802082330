/**
 * A key/value cache for decoding: preallocated [B, Hkv, capacity, D] buffers written in place
 * (`assign`, so it works on every backend), with three ways to stay within a budget:
 *  - sliding window: keep the most recent `window` tokens;
 *  - H2O (Zhang et al. 2023, "Heavy-Hitter Oracle"): keep the `recent` newest tokens plus the
 *    tokens with the largest accumulated attention, per batch entry and kv head;
 *  - A2SF (Jo & Shin 2024): as H2O, but accumulated scores decay by a forgetting factor alpha
 *    each step (s <- alpha s + a), so old tokens are not favoured; alpha = 1 is H2O.
 * Kept tokens stay in their original order, so causal structure survives eviction.
 */
import { add, arange, assign, concat, expand, gather, keep, mul, narrow, reshape, sort, sum, tensor, tidy, topk, unsqueeze, zeros, type DType, type Tensor } from "@tessera/tensor";
import { scaledDotProductAttention, type AttentionOptions } from "./sdpa";
import { checkQKV, fail } from "./shapes";

export type EvictionPolicy =
  | { type: "window"; window: number }
  | { type: "h2o"; budget: number; recent: number }
  | { type: "a2sf"; budget: number; recent: number; forgetting: number };

export interface KVCacheOptions {
  batch: number;
  kvHeads: number;
  headDim: number;
  valueDim?: number;
  /** Buffer length: the most tokens held at once (after eviction, plus one append). */
  capacity: number;
  dtype?: DType;
  backend?: string;
  eviction?: EvictionPolicy | null;
}

export class KVCache {
  private readonly k: Tensor;
  private readonly v: Tensor;
  /** Accumulated attention per cached token [B, Hkv, capacity] (H2O / A2SF). */
  private scores: Tensor | null = null;
  /** Tokens held now. */
  length = 0;
  /** Tokens appended in total (the next token's absolute position, e.g. for RoPE). */
  seen = 0;
  readonly opts: Required<Omit<KVCacheOptions, "backend" | "eviction">> & { backend?: string; eviction: EvictionPolicy | null };

  constructor(opts: KVCacheOptions) {
    const valueDim = opts.valueDim ?? opts.headDim;
    this.opts = { ...opts, valueDim, dtype: opts.dtype ?? "float32", eviction: opts.eviction ?? null };
    const ev = this.opts.eviction;
    if (ev && ev.type !== "window" && (ev.recent > ev.budget || ev.budget > opts.capacity)) {
      fail("KVCache", `eviction needs recent (${ev.recent}) <= budget (${ev.budget}) <= capacity (${opts.capacity})`);
    }
    const o = { dtype: this.opts.dtype, backend: opts.backend };
    this.k = keep(zeros([opts.batch, opts.kvHeads, opts.capacity, opts.headDim], o));
    this.v = keep(zeros([opts.batch, opts.kvHeads, opts.capacity, valueDim], o));
    if (ev && ev.type !== "window") this.scores = keep(zeros([opts.batch, opts.kvHeads, opts.capacity], { backend: opts.backend }));
  }

  /** The cached keys [B, Hkv, length, D] (a view: valid until the next append). */
  keys(): Tensor {
    return narrow(this.k, 2, 0, this.length);
  }

  values(): Tensor {
    return narrow(this.v, 2, 0, this.length);
  }

  /** Appends k [B, Hkv, t, D] and v [B, Hkv, t, Dv], evicting by the window policy first if needed. */
  append(k: Tensor, v: Tensor): void {
    const t = k.shape[2];
    const { batch, kvHeads, headDim, valueDim, capacity } = this.opts;
    const ok = (x: Tensor, d: number) => x.rank === 4 && x.shape[0] === batch && x.shape[1] === kvHeads && x.shape[2] === t && x.shape[3] === d;
    if (!ok(k, headDim) || !ok(v, valueDim))
      fail("KVCache.append", `k [${k.shape}] and v [${v.shape}] must be [${batch},${kvHeads},t,${headDim}] and [${batch},${kvHeads},t,${valueDim}]`);
    const ev = this.opts.eviction;
    if (ev?.type === "window" && this.length + t > ev.window) this.keepLast(Math.max(0, ev.window - t));
    if (this.length + t > capacity) {
      fail(
        "KVCache.append",
        `${this.length} cached + ${t} new tokens exceed the capacity ${capacity}${ev && ev.type !== "window" ? " (eviction runs after each attention step: raise capacity to budget + the longest append)" : ""}`,
      );
    }
    assign(narrow(this.k, 2, this.length, t), k);
    assign(narrow(this.v, 2, this.length, t), v);
    if (this.scores) assign(narrow(this.scores, 2, this.length, t), 0);
    this.length += t;
    this.seen += t;
  }

  /** Keeps the newest n tokens (moves them to the front). */
  private keepLast(n: number): void {
    if (n >= this.length) return;
    const drop = this.length - n;
    tidy(() => {
      const kk = narrow(this.k, 2, drop, n);
      const vv = narrow(this.v, 2, drop, n);
      // Copies first: the source and destination ranges overlap.
      const ks = concat([kk], 2);
      const vs = concat([vv], 2);
      assign(narrow(this.k, 2, 0, n), ks);
      assign(narrow(this.v, 2, 0, n), vs);
    });
    this.length = n;
  }

  /**
   * Adds this step's attention to the token scores (H2O / A2SF) and evicts down to the budget.
   * `weights` [B, H, Tq, length] are the step's probabilities (query heads of a group summed).
   */
  observe(weights: Tensor): void {
    const ev = this.opts.eviction;
    if (!ev || ev.type === "window" || !this.scores) return;
    const { batch: B, kvHeads: Hkv } = this.opts;
    const H = weights.shape[1];
    const Tq = weights.shape[2];
    const L = this.length;
    tidy(() => {
      // [B, Hkv, G, Tq, L] -> per kv head; rows of a step weighted alpha^(Tq-1-i) (A2SF prefill rule).
      const w = reshape(weights, [B, Hkv, H / Hkv, Tq, L]);
      const alpha = ev.type === "a2sf" ? ev.forgetting : 1;
      const rowW = Array.from({ length: Tq }, (_, i) => alpha ** (Tq - 1 - i));
      const weighted = mul(w, reshape(tensor(rowW, { backend: weights.backend }), [1, 1, 1, Tq, 1]));
      const add_ = sum(weighted, [2, 3]); // [B, Hkv, L]
      const cur = narrow(this.scores!, 2, 0, L);
      assign(cur, add(mul(cur, alpha ** Tq), add_));
    });
    if (this.length > ev.budget) this.evictToBudget(ev.budget, ev.recent);
  }

  private evictToBudget(budget: number, recent: number): void {
    const L = this.length;
    const { batch: B, kvHeads: Hkv, headDim: D, valueDim: Dv } = this.opts;
    tidy(() => {
      const old = narrow(this.scores!, 2, 0, L - recent);
      const top = topk(old, budget - recent, -1).indices; // [B, Hkv, budget - recent]
      const kept = sort(top, -1).values; // original order
      const recentIdx = expand(reshape(arange(L - recent, L, 1, { backend: this.k.backend }), [1, 1, recent]), [B, Hkv, recent]);
      const idx = concat([kept, recentIdx], 2); // [B, Hkv, budget]
      const take = (buf: Tensor, d: number) => gather(narrow(buf, 2, 0, L), 2, expand(unsqueeze(idx, 3), [B, Hkv, budget, d]));
      const nk = take(this.k, D);
      const nv = take(this.v, Dv);
      const ns = gather(narrow(this.scores!, 2, 0, L), 2, idx);
      assign(narrow(this.k, 2, 0, budget), nk);
      assign(narrow(this.v, 2, 0, budget), nv);
      assign(narrow(this.scores!, 2, 0, budget), ns);
    });
    this.length = budget;
  }

  /** The accumulated scores of the cached tokens [B, Hkv, length] (H2O / A2SF). */
  tokenScores(): Tensor | null {
    return this.scores ? narrow(this.scores, 2, 0, this.length) : null;
  }

  dispose(): void {
    this.k.dispose();
    this.v.dispose();
    this.scores?.dispose();
  }
}

/**
 * One decoding step with a cache: appends the new keys/values, attends the new queries
 * (q [B, H, t, D]) to everything cached (causal within the new tokens), and lets the eviction
 * policy see the attention. Returns [B, H, t, Dv].
 */
export function cachedAttention(q: Tensor, kNew: Tensor, vNew: Tensor, cache: KVCache, opts: AttentionOptions = {}): Tensor {
  checkQKV("cachedAttention", q, kNew, vNew);
  cache.append(kNew, vNew);
  const needsWeights = !!cache.opts.eviction && cache.opts.eviction.type !== "window";
  const k = cache.keys();
  const v = cache.values();
  if (!needsWeights) return scaledDotProductAttention(q, k, v, { ...opts, causal: true });
  const { output, weights } = scaledDotProductAttention(q, k, v, { ...opts, causal: true, implementation: "reference", returnWeights: true });
  cache.observe(weights);
  weights.dispose();
  return output;
}

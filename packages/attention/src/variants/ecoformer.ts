/**
 * EcoFormer (Liu et al. 2022, "EcoFormer: Energy-Saving Attention with Linear Complexity"):
 * queries and keys become b-bit codes h in {-1, +1}^b through a kernelized hash
 *   h(x) = sign(A (kappa(x) - mu)),  kappa(x)_j = exp(-|x - a_j|^2 / (2 sigma^2)),
 * with m anchors a_j, and attention uses the code similarity s(q, k) = h(q).h(k) + b
 * (= 2 (b - Hamming) >= 0). By associativity it is linear in length:
 *   out_i = (h_i^T (sum_j h_j v_j^T) + b sum_j v_j) / (h_i^T sum_j h_j + b N)
 * (causal: sums over j <= i), and since h_j is +-1, h_j v_j^T needs only additions.
 * The projection A is fitted to an attention map as in kernel-supervised hashing (KSH):
 * pairs among each query's top-k most attended keys should agree, its bottom-k disagree; bits
 * are fitted one at a time on a tanh relaxation, the residual target updated after each.
 */
import {
  add,
  assign,
  concat,
  cumsum,
  dispose,
  div,
  eq,
  exp,
  gradients,
  indexSelect,
  keep,
  matmul,
  mean,
  mul,
  neg,
  normal,
  randint,
  reshape,
  sign,
  softmax,
  square,
  sub,
  sum,
  tanh,
  tensor,
  tidy,
  topk,
  transpose,
  tril,
  unsqueeze,
  where,
  type Tensor,
} from "@tessera/tensor";
import { checkQKV, fail } from "../shapes";
import { repeatKV } from "./linear";

export interface KernelHash {
  /** [m, D] anchor points. */
  anchors: Tensor;
  /** [b, m] projection. */
  A: Tensor;
  /** [m] mean kernel vector. */
  mu: Tensor;
  /** The kernel width sigma^2. */
  sigma2: number;
}

/** kappa(x) - mu for x [..., D]: [..., m]. */
function kernelFeatures(x: Tensor, h: Pick<KernelHash, "anchors" | "sigma2">): Tensor {
  const D = x.shape[x.rank - 1];
  const flat = reshape(x, [-1, D]);
  // |x - a|^2 = |x|^2 - 2 x.a + |a|^2
  const d2 = add(sub(sum(square(flat), -1, { keepdims: true }), mul(matmul(flat, transpose(h.anchors)), 2)), reshape(sum(square(h.anchors), -1), [1, -1]));
  return reshape(exp(mul(d2, -1 / (2 * h.sigma2))), [...x.shape.slice(0, -1), h.anchors.shape[0]]);
}

/** Binary codes h(x) in {-1, +1}^b for x [..., D] (sign(0) counts as +1). */
export function hashCodes(x: Tensor, h: KernelHash): Tensor {
  return tidy(() => {
    const z = matmul(sub(kernelFeatures(x, h), h.mu), transpose(h.A)); // [..., b]
    return where(eq(sign(z), -1), -1, 1);
  });
}

export interface FitHashOptions {
  bits?: number;
  anchors?: number;
  /** Per query, the top-k and bottom-k attended keys that form the supervision pairs. */
  topk?: number;
  /** Gradient steps per bit (default 50) and their learning rate (default 0.5). */
  steps?: number;
  lr?: number;
  seed?: number;
}

/**
 * Fits a kernel hash to the softmax attention of queries q [N, D] over keys k [N, D] (one
 * head's tokens; both sides use one hash, as the reference code hashes a shared qk).
 */
export async function fitKernelHash(q: Tensor, k: Tensor, opts: FitHashOptions = {}): Promise<KernelHash> {
  const bits = opts.bits ?? 16;
  const m = opts.anchors ?? 20;
  const topK = opts.topk ?? 4;
  const steps = opts.steps ?? 50;
  const lr = opts.lr ?? 0.5;
  const seed = opts.seed ?? 0;
  if (q.rank !== 2 || k.rank !== 2 || q.shape[1] !== k.shape[1] || q.shape[0] !== k.shape[0])
    fail("fitKernelHash", `q and k must both be [N, D], got [${q.shape}] and [${k.shape}]`);
  const [N, D] = k.shape;
  const be = q.backend;
  // Anchors sampled from the tokens; sigma^2 = mean squared token-anchor distance; mu = mean feature.
  const { anchors, sigma2 } = await (async () => {
    const both = concat([q, k], 0);
    const a = keep(indexSelect(both, 0, randint(0, 2 * N, [m], { seed, backend: be })));
    const s2 = mean(sum(square(sub(unsqueeze(both, 1), unsqueeze(a, 0))), -1));
    const v = Math.max(1e-6, await s2.item());
    dispose([both, s2]);
    return { anchors: a, sigma2: v };
  })();
  const mu = keep(tidy(() => mean(kernelFeatures(concat([q, k], 0), { anchors, sigma2 }), 0)));
  const fq = keep(tidy(() => sub(kernelFeatures(q, { anchors, sigma2 }), mu))); // [N, m]
  const fk = keep(tidy(() => sub(kernelFeatures(k, { anchors, sigma2 }), mu)));
  // Supervision [N, N]: +1 for each query's top-k attended keys, -1 for its bottom-k.
  const att = tidy(() => softmax(div(matmul(q, transpose(k)), Math.sqrt(D)), -1));
  const hi = await topk(att, topK, -1).indices.data();
  const lo = await topk(att, topK, -1, false).indices.data();
  att.dispose();
  const S = new Float32Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let t = 0; t < topK; t++) {
      S[i * N + hi[i * topK + t]] = 1;
      S[i * N + lo[i * topK + t]] = -1;
    }
  }
  let target = keep(tensor(S, { shape: [N, N], backend: be }));
  const rows: Tensor[] = [];
  for (let r = 0; r < bits; r++) {
    const a = keep(normal([m, 1], 0, 1, { seed: seed + 1 + r, backend: be }));
    for (let s = 0; s < steps; s++) {
      // Relaxed codes y = tanh(F a); maximize yq^T T yk (minimize its negative, per pair).
      const { value, grads } = gradients(() => neg(div(sum(mul(matmul(tanh(matmul(fq, a)), transpose(tanh(matmul(fk, a)))), target)), 2 * N * topK)), [a]);
      const next = tidy(() => sub(a, mul(grads[0], lr)));
      assign(a, next);
      dispose([value, grads, next]);
    }
    rows.push(a);
    const next = tidy(() => {
      const yq = where(eq(sign(matmul(fq, a)), -1), -1, 1);
      const yk = where(eq(sign(matmul(fk, a)), -1), -1, 1);
      return keep(sub(target, div(matmul(yq, transpose(yk)), bits)));
    });
    target.dispose();
    target = next;
  }
  const A = tidy(() => transpose(concat(rows, 1))); // [bits, m]
  dispose([rows, fq, fk, target]);
  return { anchors, A, mu, sigma2 };
}

export interface HashedAttentionOptions {
  causal?: boolean;
}

/** The linear form of EcoFormer attention from codes hq [B, H, Tq, b], hk [B, Hkv, Tk, b]. */
export function hashedAttention(hq: Tensor, hk: Tensor, v: Tensor, opts: HashedAttentionOptions = {}): Tensor {
  const d = checkQKV("hashedAttention", hq, hk, v);
  const b = hq.shape[3];
  return tidy(() => {
    const k = repeatKV(hk, d.G);
    const vv = repeatKV(v, d.G);
    if (!opts.causal) {
      const KV = matmul(transpose(k), vv); // [B, H, b, Dv]: +-v additions
      const num = add(matmul(hq, KV), mul(sum(vv, 2, { keepdims: true }), b));
      const den = add(matmul(hq, transpose(sum(k, 2, { keepdims: true }))), b * d.Tk);
      return div(num, den);
    }
    if (d.Tq !== d.Tk) fail("hashedAttention", "causal hashed attention needs Tq = Tk");
    // Prefix sums over j <= i: cumsum of h_j v_j^T [B, H, T, b, Dv] is O(T b Dv) memory.
    const KV = cumsum(mul(unsqueeze(k, -1), unsqueeze(vv, -2)), 2);
    const num = add(reshape(matmul(unsqueeze(hq, -2), KV), [d.B, d.H, d.Tq, d.Dv]), mul(cumsum(vv, 2), b));
    const count = reshape(
      tensor(
        Array.from({ length: d.Tq }, (_, i) => i + 1),
        { backend: hq.backend },
      ),
      [1, 1, d.Tq, 1],
    );
    const den = add(sum(mul(hq, cumsum(k, 2)), -1, { keepdims: true }), mul(count, b));
    return div(num, den);
  });
}

/** The explicit quadratic form: s = hq hk^T + b, out = s v / rowsum(s) (the oracle). */
export function hashedAttentionReference(hq: Tensor, hk: Tensor, v: Tensor, opts: HashedAttentionOptions = {}): Tensor {
  const d = checkQKV("hashedAttentionReference", hq, hk, v);
  return tidy(() => {
    let s = add(matmul(hq, transpose(repeatKV(hk, d.G))), hq.shape[3]);
    if (opts.causal) s = tril(s);
    return div(matmul(s, repeatKV(v, d.G)), sum(s, -1, { keepdims: true }));
  });
}

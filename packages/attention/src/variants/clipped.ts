/**
 * Clipped softmax (Bondarenko et al. 2023, "Quantizable Transformers: Removing Outliers by
 * Helping Attention Heads Do Nothing"):
 *   clippedSoftmax(x) = clip((zeta - gamma) * softmax(x) + gamma, 0, 1)
 * With gamma < 0 a head can output exact zeros without pushing logits to extremes (the outliers
 * that break quantization). The paper's BERT setting is zeta = 1, gamma = -0.025 (or gamma = -alpha/T).
 * Attention with it: out = clippedSoftmax(q k^T * scale + bias) v. The tiled form makes two
 * passes over key blocks (memory O(Tq * block)): the row logsumexp first, then clipped
 * probabilities block by block. Its gradient comes from autograd through the block ops.
 */
import {
  add,
  clamp,
  dispose,
  exp,
  full,
  isinf,
  log,
  matmul,
  max,
  maximum,
  mul,
  narrow,
  reshape,
  softmax,
  sub,
  sum,
  tidy,
  transpose,
  where,
  zeros,
  type Tensor,
} from "@tessera/tensor";
import { biasBlock, type BiasOptions } from "../bias";
import { grouped } from "../sdpa";
import { checkQKV, type QKVDims } from "../shapes";

export interface ClippedSoftmaxOptions {
  /** Stretch ζ (default 1). */
  zeta?: number;
  /** Offset γ (default 0: plain softmax); negative values allow exact zeros. */
  gamma?: number;
}

export function clippedSoftmax(x: Tensor, axis = -1, opts: ClippedSoftmaxOptions = {}): Tensor {
  const zeta = opts.zeta ?? 1;
  const gamma = opts.gamma ?? 0;
  return tidy(() => clamp(add(mul(softmax(x, axis), zeta - gamma), gamma), 0, 1));
}

export interface ClippedAttentionOptions extends BiasOptions, ClippedSoftmaxOptions {
  scale?: number;
  implementation?: "reference" | "tiled";
  blockSize?: number;
}

function blockLogits(q: Tensor, k: Tensor, d: QKVDims, o: ClippedAttentionOptions, scale: number, j0: number, n: number): Tensor {
  const kb = n === d.Tk ? k : narrow(k, 2, j0, n);
  const s = reshape(mul(matmul(grouped(q, d), transpose(kb)), scale), [d.B, d.H, d.Tq, n]);
  const bias = biasBlock("clippedSoftmaxAttention", o, d, j0, n, q.backend);
  return bias ? add(s, bias) : s;
}

const pv = (p: Tensor, v: Tensor, d: QKVDims): Tensor => reshape(matmul(reshape(p, [d.B, d.Hkv, d.G * d.Tq, p.shape[3]]), v), [d.B, d.H, d.Tq, v.shape[3]]);

export function clippedSoftmaxAttention(q: Tensor, k: Tensor, v: Tensor, opts: ClippedAttentionOptions = {}): Tensor {
  const d = checkQKV("clippedSoftmaxAttention", q, k, v);
  const scale = opts.scale ?? 1 / Math.sqrt(d.D);
  const zeta = opts.zeta ?? 1;
  const gamma = opts.gamma ?? 0;
  if (opts.implementation !== "tiled") return tidy(() => pv(clippedSoftmax(blockLogits(q, k, d, opts, scale, 0, d.Tk), -1, opts), v, d));
  const block = Math.max(1, opts.blockSize ?? 256);
  // Each block is tidied so only the running statistics (and then the output) stay alive:
  // memory O(Tq * block).
  let m = full([d.B, d.H, d.Tq, 1], -Infinity, { backend: q.backend });
  let l = zeros([d.B, d.H, d.Tq, 1], { backend: q.backend });
  // Pass 1: running logsumexp over key blocks.
  for (let j0 = 0; j0 < d.Tk; j0 += block) {
    const next = tidy(() => {
      const s = blockLogits(q, k, d, opts, scale, j0, Math.min(block, d.Tk - j0));
      const mNew = maximum(m, max(s, -1, { keepdims: true }));
      const safe = where(isinf(mNew), 0, mNew);
      return { m: mNew, l: add(mul(l, exp(sub(m, safe))), sum(exp(sub(s, safe)), -1, { keepdims: true })) };
    });
    dispose([m, l]);
    ({ m, l } = next);
  }
  const lse = tidy(() => add(where(isinf(m), 0, m), log(l)));
  dispose([m, l]);
  // Pass 2: clipped probabilities per block, accumulated into the output.
  let acc = zeros([d.B, d.H, d.Tq, d.Dv], { backend: q.backend });
  for (let j0 = 0; j0 < d.Tk; j0 += block) {
    const n = Math.min(block, d.Tk - j0);
    const next = tidy(() => {
      const p = clamp(add(mul(exp(sub(blockLogits(q, k, d, opts, scale, j0, n), lse)), zeta - gamma), gamma), 0, 1);
      return add(acc, pv(p, narrow(v, 2, j0, n), d));
    });
    acc.dispose();
    acc = next;
  }
  lse.dispose();
  return acc;
}

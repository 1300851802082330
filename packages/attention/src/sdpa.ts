/**
 * Scaled dot-product attention (Vaswani et al. 2017):
 *   out = softmax(q k^T * scale + bias) v,   scale = 1/sqrt(Dh) by default,
 * on q [B, H, Tq, Dh], k [B, Hkv, Tk, Dh], v [B, Hkv, Tk, Dv] (grouped-query when Hkv < H).
 *
 * Grouped heads are computed without repeating k/v: q is viewed as [B, Hkv, G*Tq, Dh] so one
 * matmul per key/value head serves its whole group.
 *
 * `implementation`: 'reference' materializes the [Tq, Tk] scores (the oracle); 'tiled' is the
 * flash-style online softmax over key blocks (memory O(Tq * block), see tiled.ts); 'auto' picks
 * tiled unless weights or dropout are asked for, where a registered fused kernel covers the call
 * (on cpu: the WebAssembly SIMD flash attention, any length) or the keys are long.
 */
import { add, dropout as dropoutOp, isnan, matmul, mul, reshape, softmax, tanh, tidy, transpose, where, div, type Generator, type Tensor } from "@tessera/tensor";
import { biasBlock, type BiasOptions } from "./bias";
import { checkQKV, fail, type QKVDims } from "./shapes";
import { fusedKernel, tiledAttention } from "./tiled";

export interface AttentionOptions extends BiasOptions {
  /** Logit scale (default 1/sqrt(Dh)). */
  scale?: number;
  /** Soft-capping of the logits: s = c tanh(s / c) (Gemma 2; FlashAttention's softcap). */
  softcap?: number | null;
  /** Attention dropout, applied to the probabilities in training mode. */
  dropout?: { p: number; seed?: number | Generator; training?: boolean } | null;
  /** Rows whose keys are all masked give NaN as PyTorch (default) or 0 with `zero`. */
  maskedRows?: "nan" | "zero";
  implementation?: "reference" | "tiled" | "auto";
  /** Key block length for the tiled form (default 256). */
  blockSize?: number;
}

/** Keys at or above this length make 'auto' choose the tiled form. */
const AUTO_TILED_MIN_TK = 1024;

/** q [B, H, Tq, Dh] viewed as [B, Hkv, G*Tq, Dh] (its group's queries stacked). */
export function grouped(q: Tensor, d: QKVDims): Tensor {
  return reshape(q, [d.B, d.Hkv, d.G * d.Tq, q.shape[3]]);
}

/** The logits s = q k^T * scale (+ softcap) as [B, H, Tq, Tk_block], for a k block. */
export function logits(q: Tensor, k: Tensor, d: QKVDims, scale: number, softcap: number | null | undefined): Tensor {
  const s = reshape(mul(matmul(grouped(q, d), transpose(k)), scale), [d.B, d.H, d.Tq, k.shape[2]]);
  return softcap ? mul(tanh(div(s, softcap)), softcap) : s;
}

/** The reference: materialized probabilities. Returns [out, probabilities]. */
function reference(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, o: AttentionOptions, scale: number): [Tensor, Tensor] {
  let s = logits(q, k, d, scale, o.softcap);
  const bias = biasBlock("scaledDotProductAttention", o, d, 0, d.Tk, q.backend);
  if (bias) s = add(s, bias);
  let p = softmax(s, -1); // [B, H, Tq, Tk]
  if (o.maskedRows === "zero") p = where(isnan(p), 0, p);
  let pd = p;
  if (o.dropout && o.dropout.training !== false && o.dropout.p > 0) pd = dropoutOp(p, o.dropout.p, { seed: o.dropout.seed });
  const out = reshape(matmul(reshape(pd, [d.B, d.Hkv, d.G * d.Tq, d.Tk]), v), [d.B, d.H, d.Tq, d.Dv]);
  return [out, p];
}

export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions & { returnWeights: true }): { output: Tensor; weights: Tensor };
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions & { returnWeights?: false }): Tensor;
/**
 * softmax(q k^T * scale + bias) v. With `returnWeights: true`, also the attention probabilities
 * [B, H, Tq, Tk] (before dropout).
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions & { returnWeights?: boolean } = {},
): Tensor | { output: Tensor; weights: Tensor } {
  const op = "scaledDotProductAttention";
  const d = checkQKV(op, q, k, v);
  const scale = opts.scale ?? 1 / Math.sqrt(d.D);
  const wantsDropout = !!opts.dropout && opts.dropout.training !== false && opts.dropout.p > 0;
  let impl = opts.implementation ?? "auto";
  if (impl === "auto") {
    const tiledFits = !opts.returnWeights && !wantsDropout;
    impl = tiledFits && (d.Tk >= AUTO_TILED_MIN_TK || fusedKernel(q, k, v, d, opts, scale)) ? "tiled" : "reference";
  }
  if (impl === "tiled") {
    if (opts.returnWeights) fail(op, "the tiled implementation never forms the weights: use implementation 'reference' with returnWeights");
    if (wantsDropout) fail(op, "dropout is implemented by the reference form only");
    return tiledAttention(q, k, v, d, opts, scale);
  }
  const [out, p] = tidy(() => reference(q, k, v, d, opts, scale));
  if (opts.returnWeights) return { output: out, weights: p };
  p.dispose();
  return out;
}

/**
 * A Transformer FFN sub-block in integer-only arithmetic (I-BERT, Kim et al. 2021, the
 * `IBertIntermediate` + `IBertOutput` path): every tensor between the float input and the float
 * output is an integer with a known scale, and every rescaling is a dyadic number (an integer
 * multiplier and a right shift), as integer-only hardware computes it:
 *   x_q = int8(x)                               (symmetric, per tensor)
 *   h = x_q W1^T + b1  -> int32, scale s_x s_w1[j] (per output channel), requantized to 16 bits
 *   g = intGelu(h)     -> requantized to int8
 *   y = g W2^T + b2    -> int32, requantized to the residual's scale, + x_q (requantized)
 *   out = intLayerNorm(y + x)
 * and the attention sub-block the same way (`integerAttention`): int8 q/k/v projections,
 * per-head int8 q k^T in int32, `intSoftmax` (7-bit probabilities so they stay int8), int8
 * probabilities x v, the output projection, the residual and `intLayerNorm`.
 */
import { fail } from "../errors";
import { int8Matmul } from "../int8";
import { intGelu, intLayerNorm, intSoftmax, type IntValues } from "./ops";
import type { QuantizedTensor } from "../quantized-tensor";

/** m / 2^shift ~ r with m < 2^31 (r > 0): a dyadic rescaling factor. */
export function dyadic(r: number): { m: number; shift: number } {
  if (!(r > 0) || !Number.isFinite(r)) fail("dyadic", `ratio must be positive and finite, got ${r}`);
  let shift = 0;
  while (r * 2 ** (shift + 1) < 2 ** 31 && shift < 62) shift++;
  return { m: Math.floor(r * 2 ** shift), shift };
}

/** q * (m / 2^shift), floor: integer-only rescaling of one value. */
const rescale = (q: number, d: { m: number; shift: number }) => Math.floor((q * d.m) / 2 ** d.shift);

/** Requantizes per-column-scaled integers [rows, cols] to one scale with `bits` bits; returns the integers and that scale. */
function requantize(q: Float64Array, cols: number, colScales: ArrayLike<number>, bits: number): IntValues {
  let amax = 0;
  for (let i = 0; i < q.length; i++) amax = Math.max(amax, Math.abs(q[i] * colScales[i % cols]));
  const scale = amax > 0 ? amax / (2 ** (bits - 1) - 1) : 1;
  // A negative input scale (intGelu's) flips the integers' sign instead.
  const ds = Array.from(colScales, (s) => dyadic(Math.abs(s) / scale));
  const sign = Array.from(colScales, (s) => Math.sign(s));
  return { q: Float64Array.from(q, (v, i) => rescale(sign[i % cols] * v, ds[i % cols])), scale };
}

export interface IntegerFFNWeights {
  /** int8 symmetric per-output-channel weights (granularity channel, axis 0). */
  w1: QuantizedTensor;
  b1: ArrayLike<number>;
  w2: QuantizedTensor;
  b2: ArrayLike<number>;
  lnWeight: ArrayLike<number>;
  lnBias: ArrayLike<number>;
}

function int8Weight(op: string, w: QuantizedTensor): { codes: Int8Array; scales: Float32Array; out: number; inp: number } {
  const f = w.format;
  if (!(f.type === "int" && f.bits === 8 && f.symmetric && f.granularity.kind === "channel" && f.granularity.axis === 0) || w.shape.length !== 2) {
    fail(op, "weights must be int8 symmetric per output channel [out, in]");
  }
  return { codes: new Int8Array(w.codes()), scales: w.scales!, out: w.shape[0], inp: w.shape[1] };
}

/** LayerNorm(x + W2 GELU(W1 x + b1) + b2) on rows of x [T, D] with integer-only arithmetic inside. */
export function integerFFN(x: Float32Array, T: number, p: IntegerFFNWeights): Float32Array {
  const op = "integerFFN";
  const w1 = int8Weight(op, p.w1);
  const w2 = int8Weight(op, p.w2);
  const D = w1.inp;
  const H = w1.out;
  if (w2.inp !== H || w2.out !== D || x.length !== T * D)
    fail(op, `shapes: x [${T}, ${x.length / T}], w1 [${H}, ${D}], w2 [${w2.out}, ${w2.inp}] must chain as [T, D] -> [T, H] -> [T, D]`);
  // 1. int8 input.
  let amax = 0;
  for (const v of x) amax = Math.max(amax, Math.abs(v));
  const sx = amax > 0 ? amax / 127 : 1;
  const xq = Int8Array.from(x, (v) => Math.round(v / sx));
  // 2. First projection in int32, bias at the accumulator's scale, requantized to 16 bits.
  const acc1 = int8Matmul(xq, w1.codes, T, H, D);
  const s1 = Float64Array.from(w1.scales, (s) => sx * s);
  const h = Float64Array.from(acc1, (v, i) => v + Math.round(p.b1[i % H] / s1[i % H]));
  const h16 = requantize(h, H, s1, 16);
  // 3. Integer GELU, requantized to int8 for the second projection.
  const g = intGelu(h16);
  const g8 = requantize(g.q, 1, [g.scale], 8);
  // 4. Second projection + bias, then the residual at one scale.
  const acc2 = int8Matmul(Int8Array.from(g8.q), w2.codes, T, D, H);
  const s2 = Float64Array.from(w2.scales, (s) => g8.scale * s);
  const y = Float64Array.from(acc2, (v, i) => v + Math.round(p.b2[i % D] / s2[i % D]));
  const y16 = requantize(y, D, s2, 16);
  const res = dyadic(sx / y16.scale);
  const sum = Float64Array.from(y16.q, (v, i) => v + rescale(xq[i], res));
  // 5. Integer LayerNorm; dequantize at the end.
  const ln = intLayerNorm({ q: sum, scale: y16.scale }, D, p.lnWeight, p.lnBias);
  return Float32Array.from(ln.q, (v, i) => v * ln.scales[i % D]);
}

export interface IntegerAttentionWeights {
  /** int8 symmetric per-output-channel projections [D, D]. */
  wq: QuantizedTensor;
  wk: QuantizedTensor;
  wv: QuantizedTensor;
  wo: QuantizedTensor;
  bq: ArrayLike<number>;
  bk: ArrayLike<number>;
  bv: ArrayLike<number>;
  bo: ArrayLike<number>;
  heads: number;
  lnWeight: ArrayLike<number>;
  lnBias: ArrayLike<number>;
}

/** An int8 projection with an integer bias, requantized to int8 with one scale. */
function project(xq: Int8Array, sx: number, T: number, w: { codes: Int8Array; scales: Float32Array; out: number; inp: number }, b: ArrayLike<number>): IntValues {
  const acc = int8Matmul(xq, w.codes, T, w.out, w.inp);
  const s = Float64Array.from(w.scales, (v) => sx * v);
  const y = Float64Array.from(acc, (v, i) => v + Math.round(b[i % w.out] / s[i % w.out]));
  return requantize(y, w.out, s, 8);
}

/** LayerNorm(x + Attention(x)) on rows of x [T, D] (bidirectional, as BERT) with integer-only arithmetic inside. */
export function integerAttention(x: Float32Array, T: number, p: IntegerAttentionWeights): Float32Array {
  const op = "integerAttention";
  const [wq, wk, wv, wo] = [p.wq, p.wk, p.wv, p.wo].map((w) => int8Weight(op, w));
  const D = wq.inp;
  const H = p.heads;
  const Dh = D / H;
  if (!Number.isInteger(Dh) || x.length !== T * D) fail(op, `x [${T}, ${x.length / T}] and ${H} heads must tile D = ${D}`);
  let amax = 0;
  for (const v of x) amax = Math.max(amax, Math.abs(v));
  const sx = amax > 0 ? amax / 127 : 1;
  const xq = Int8Array.from(x, (v) => Math.round(v / sx));
  const [q, k, v] = [project(xq, sx, T, wq, p.bq), project(xq, sx, T, wk, p.bk), project(xq, sx, T, wv, p.bv)];
  const ctx = new Float64Array(T * D);
  let ctxScale = 0;
  const heads: { out: Float64Array; scale: number }[] = [];
  for (let h = 0; h < H; h++) {
    const take = (t: IntValues) => {
      const a = new Int8Array(T * Dh);
      for (let i = 0; i < T; i++) for (let j = 0; j < Dh; j++) a[i * Dh + j] = t.q[i * D + h * Dh + j];
      return a;
    };
    const [qh, kh] = [take(q), take(k)];
    const vhT = new Int8Array(Dh * T); // v^T [Dh, T] so p v is p (v^T)^T
    for (let i = 0; i < T; i++) for (let j = 0; j < Dh; j++) vhT[j * T + i] = v.q[i * D + h * Dh + j];
    const scores = int8Matmul(qh, kh, T, T, Dh); // [T, T] int32
    const probs = intSoftmax({ q: Float64Array.from(scores), scale: (q.scale * k.scale) / Math.sqrt(Dh) }, T, 7);
    const out = int8Matmul(
      Int8Array.from(probs.q, (v) => Math.min(127, v)),
      vhT,
      T,
      Dh,
      T,
    ); // [T, Dh]
    heads.push({ out: Float64Array.from(out), scale: probs.scale * v.scale });
  }
  // Every head shares one scale (7-bit probabilities times v's scale).
  ctxScale = heads[0].scale;
  for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) for (let j = 0; j < Dh; j++) ctx[i * D + h * Dh + j] = heads[h].out[i * Dh + j];
  const c8 = requantize(ctx, 1, [ctxScale], 8);
  const acc = int8Matmul(Int8Array.from(c8.q), wo.codes, T, D, D);
  const so = Float64Array.from(wo.scales, (s) => c8.scale * s);
  const y = Float64Array.from(acc, (v, i) => v + Math.round(p.bo[i % D] / so[i % D]));
  const y16 = requantize(y, D, so, 16);
  const res = dyadic(sx / y16.scale);
  const sum = Float64Array.from(y16.q, (v, i) => v + rescale(xq[i], res));
  const ln = intLayerNorm({ q: sum, scale: y16.scale }, D, p.lnWeight, p.lnBias);
  return Float32Array.from(ln.q, (v, i) => v * ln.scales[i % D]);
}

/**
 * Integer-only approximations of the non-linear operations of a Transformer block (I-BERT, Kim
 * et al. 2021; the constants and steps of Hugging Face's `ibert/quant_modules.py`). Values are
 * (integer q, scale s) pairs meaning q s; integers are held exactly in float64 (intermediates
 * can pass 32 bits) and every step is an integer add, multiply, shift (floor division by a power
 * of two) or comparison, with scales that are constants for given input scales.
 *  - intGelu: GELU(x) = x/2 (1 + erf(x / sqrt 2)), erf by the second-order polynomial
 *    sign(x) [a (min(|x|, -b) + b)^2 + 1], a = -0.2888, b = -1.769;
 *  - intSoftmax: exp by x = -z ln2 + p, exp(p) ~ 0.35815 (p^2 + 2.7073 p + 2.7921), 2^-z as a
 *    shift, then the row sum and an integer division; output at `outputBits` (scale 2^-bits);
 *  - intLayerNorm: integer mean, variance, square root by Newton's iteration (the paper's
 *    Algorithm 4), a 2^31 / std factor; weight and bias folded into the output scale.
 * Inputs are meant at accumulator precision (the int32 result of an int8 x int8 matmul, or at
 * least 16 bits): the constants' floors and the 2^14 / 2^30 shifts assume fine input scales.
 * Measured against the float functions (16-bit inputs): GELU max error 1.8e-2 (the erf
 * polynomial's, as the paper), softmax 4.2e-3 (8-bit output), LayerNorm 9.5e-5.
 */
import { fail } from "../errors";

export interface IntValues {
  q: Float64Array;
  /** One scale for all values (intLayerNorm: per feature, see `scales`). */
  scale: number;
}

const floor = Math.floor;

/** Quantizes floats to symmetric `bits`-bit integers with s = max|x| / (2^(b-1) - 1). */
export function toInt(x: ArrayLike<number>, bits = 16): IntValues {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  const scale = m > 0 ? m / (2 ** (bits - 1) - 1) : 1;
  return { q: Float64Array.from(x, (v) => Math.round(v / scale)), scale };
}

export function intGelu(x: IntValues): IntValues {
  const k = 1.4142;
  const shift = 14;
  const [a, b, c] = [-0.2888, -1.769, 1 / -0.2888];
  const s = x.scale / k; // erf's argument x / sqrt 2
  const bInt = floor(b / s);
  const cInt = floor(c / s ** 2);
  let sigScale = s ** 2 * a * 2 ** shift;
  const out = new Float64Array(x.q.length);
  const one = floor(1 / sigScale);
  for (let i = 0; i < out.length; i++) {
    const q = x.q[i];
    const absq = Math.min(Math.abs(q), -bInt);
    const erfInt = floor((Math.sign(q) * ((absq + bInt) ** 2 + cInt)) / 2 ** shift);
    out[i] = q * (erfInt + one);
  }
  sigScale = (x.scale * sigScale) / 2;
  return { q: out, scale: sigScale };
}

/** Softmax over rows of `rowLength`; output integers with scale 2^-outputBits. */
export function intSoftmax(x: IntValues, rowLength: number, outputBits = 8): IntValues {
  if (x.q.length % rowLength) fail("intSoftmax", `${x.q.length} values are not rows of ${rowLength}`);
  const x0 = -0.6931;
  const cst = 30;
  const coef = [0.35815147, 0.96963238 / 0.35815147, 1.0 / 0.35815147];
  const s = x.scale;
  const x0Int = floor(x0 / s);
  const bInt = floor(coef[1] / s);
  const cInt = floor(coef[2] / s ** 2);
  const out = new Float64Array(x.q.length);
  const exps = new Float64Array(rowLength);
  for (let r = 0; r < x.q.length / rowLength; r++) {
    const o = r * rowLength;
    let mx = -Infinity;
    for (let j = 0; j < rowLength; j++) mx = Math.max(mx, x.q[o + j]);
    let emax = 0;
    for (let j = 0; j < rowLength; j++) {
      const xi = Math.max(x.q[o + j] - mx, cst * x0Int);
      const z = floor(xi / x0Int);
      const p = xi - x0Int * z;
      const poly = (p + bInt) * p + cInt;
      exps[j] = Math.max(0, floor(poly * 2 ** (cst - z)));
      emax = Math.max(emax, exps[j]);
    }
    // Requantize the exponentials to 16 bits (I-BERT's QuantAct(16)) before summing.
    const req = emax > 0 ? emax / (2 ** 15 - 1) : 1;
    let sum = 0;
    for (let j = 0; j < rowLength; j++) sum += exps[j] = Math.round(exps[j] / req);
    const factor = floor(2 ** 32 / sum);
    for (let j = 0; j < rowLength; j++) out[o + j] = floor((exps[j] * factor) / 2 ** (32 - outputBits));
  }
  return { q: out, scale: 2 ** -outputBits };
}

/** Integer square root floor(sqrt(n)) by Newton's iteration (I-BERT Algorithm 4). */
export function isqrt(n: number): number {
  if (n < 0 || !Number.isInteger(n)) fail("isqrt", `n must be a non-negative integer, got ${n}`);
  if (n < 2) return n;
  let x = 2 ** Math.ceil(Math.log2(n) / 2);
  for (;;) {
    const y = floor((x + floor(n / x)) / 2);
    if (y >= x) return x;
    x = y;
  }
}

/**
 * LayerNorm over rows of `rowLength` (no epsilon, as I-BERT). Returns integers and one scale per
 * feature (sqrt(D) / 2^30 times the weight): value[r, d] = q[r, d] * scales[d].
 */
export function intLayerNorm(x: IntValues, rowLength: number, weight: ArrayLike<number>, bias: ArrayLike<number>, shift = 0): { q: Float64Array; scales: Float64Array } {
  const D = rowLength;
  if (x.q.length % D || weight.length !== D || bias.length !== D) fail("intLayerNorm", `values must be rows of ${D} with weight and bias of length ${D}`);
  const base = Math.sqrt(D) / 2 ** 30;
  const scales = Float64Array.from(weight, (w) => base * w);
  const biasInt = Float64Array.from(bias, (b, d) => floor(b / weight[d] / base));
  const out = new Float64Array(x.q.length);
  for (let r = 0; r < x.q.length / D; r++) {
    const o = r * D;
    let sum = 0;
    for (let d = 0; d < D; d++) sum += x.q[o + d];
    const mean = Math.round(sum / D);
    let v = 0;
    for (let d = 0; d < D; d++) v += floor((x.q[o + d] - mean) / 2 ** shift) ** 2;
    const std = isqrt(v) * 2 ** shift;
    const factor = floor(2 ** 31 / Math.max(std, 1));
    for (let d = 0; d < D; d++) out[o + d] = floor(((x.q[o + d] - mean) * factor) / 2) + biasInt[d];
  }
  return { q: out, scales };
}

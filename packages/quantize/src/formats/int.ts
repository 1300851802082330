/**
 * Integer quantizers, computed in float32 as PyTorch does so codes match it exactly:
 *  - symmetric absmax (LLM.int8's vector-wise quantization, Dettmers et al. 2022):
 *      s = max|x| / qmax,  q = clamp(round(x / s), -qmax, qmax),  x^ = q s,  qmax = 2^(b-1) - 1
 *  - asymmetric (min-max with a zero point, Jacob et al. 2018):
 *      s = (max - min) / (2^b - 1),  z = round(-min / s),  q = clamp(round(x / s) + z, 0, 2^b - 1),
 *      x^ = (q - z) s
 *  - ternary (BitNet b1.58, Ma et al. 2024): s = mean|x|,  q = clamp(round(x / s), -1, 1)
 * round is half to even. A group whose scale would be 0 (all zeros, or max = min) gets s = 1.
 */
import { roundDiv } from "../round";
import type { GroupLayout } from "./groups";

export interface IntCodes {
  /** One integer code per element (signed for symmetric formats, in [0, 2^b - 1] otherwise). */
  q: Int32Array;
  scales: Float32Array;
  zeros: Float32Array | null;
}

export function quantizeInt(x: Float32Array, g: GroupLayout, bits: number, symmetric: boolean): IntCodes {
  const n = x.length;
  if (symmetric) {
    const qmax = 2 ** (bits - 1) - 1;
    const absmax = new Float32Array(g.count);
    for (let i = 0; i < n; i++) absmax[g.index[i]] = Math.max(absmax[g.index[i]], Math.abs(x[i]));
    const scales = absmax.map((a) => (a > 0 ? Math.fround(a / qmax) : 1));
    const q = new Int32Array(n);
    for (let i = 0; i < n; i++) q[i] = Math.min(qmax, Math.max(-qmax, roundDiv(x[i], scales[g.index[i]])));
    return { q, scales, zeros: null };
  }
  const levels = 2 ** bits - 1;
  const mn = new Float32Array(g.count).fill(Infinity);
  const mx = new Float32Array(g.count).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const k = g.index[i];
    if (x[i] < mn[k]) mn[k] = x[i];
    if (x[i] > mx[k]) mx[k] = x[i];
  }
  const scales = new Float32Array(g.count);
  const zeros = new Float32Array(g.count);
  for (let k = 0; k < g.count; k++) {
    const range = Math.fround(mx[k] - mn[k]);
    scales[k] = range > 0 ? Math.fround(range / levels) : 1;
    zeros[k] = roundDiv(-mn[k], scales[k]);
  }
  const q = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = g.index[i];
    q[i] = Math.min(levels, Math.max(0, roundDiv(x[i], scales[k]) + zeros[k]));
  }
  return { q, scales, zeros };
}

export function quantizeTernary(x: Float32Array, g: GroupLayout): IntCodes {
  const sum = new Float64Array(g.count);
  const cnt = new Float64Array(g.count);
  for (let i = 0; i < x.length; i++) {
    sum[g.index[i]] += Math.abs(x[i]);
    cnt[g.index[i]]++;
  }
  const scales = Float32Array.from(sum, (s, k) => (s > 0 ? Math.fround(s / cnt[k]) : 1));
  const q = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) q[i] = Math.min(1, Math.max(-1, roundDiv(x[i], scales[g.index[i]])));
  return { q, scales, zeros: null };
}

/** x^ = (q - z) s per element, in float32. */
export function dequantizeInt(c: IntCodes, g: GroupLayout): Float32Array {
  const out = new Float32Array(c.q.length);
  for (let i = 0; i < out.length; i++) {
    const k = g.index[i];
    out[i] = Math.fround((c.zeros ? Math.fround(c.q[i] - c.zeros[k]) : c.q[i]) * c.scales[k]);
  }
  return out;
}

/**
 * 1-D convolution on the cpu (cross-correlation, as torch.nn.functional.conv1d):
 *   out[b, co, t] = bias[co] + sum_{ci in group(co), k} x[b, ci, t*stride + k*dilation - padLeft] * w[co, ci', k]
 * Depthwise float32 with 4 taps, stride 1 and dilation 1 (Mamba's causal conv, d_conv = 4) slides
 * a window of four inputs through registers (depthwise4, ~5x the general loop).
 */
import type { StorageArray } from "../../core/dtype";
import type { Conv1dParams } from "../backend";
import { computeArray, contiguousValues, toStorage, type CpuView } from "./strided";

export function conv1d(x: CpuView, w: CpuView, bias: CpuView | null, p: Conv1dParams): StorageArray {
  const [B, Cin, L] = x.shape;
  const [Cout, CinG, Kw] = w.shape;
  const Lout = Math.floor((L + p.padLeft + p.padRight - p.dilation * (Kw - 1) - 1) / p.stride) + 1;
  const X = contiguousValues(x); // [B, Cin, L]
  const W = contiguousValues(w); // [Cout, Cin/groups, K]
  const bv = bias ? contiguousValues(bias) : null;
  const out = computeArray(x.dtype, B * Cout * Math.max(Lout, 0));
  if (CinG === 1 && Cout === Cin && Kw === 4 && p.stride === 1 && p.dilation === 1 && X instanceof Float32Array && W instanceof Float32Array && out instanceof Float32Array) {
    depthwise4(X, W, bv as Float32Array | null, out, B * Cin, Cin, L, Lout, p.padLeft);
    return out;
  }
  const CoutG = Cout / p.groups;
  for (let b = 0; b < B; b++) {
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / CoutG);
      const ob = (b * Cout + co) * Lout;
      const b0 = bv ? bv[co] : 0;
      for (let t = 0; t < Lout; t++) out[ob + t] = b0;
      for (let ci = 0; ci < CinG; ci++) {
        const xb = (b * Cin + g * CinG + ci) * L;
        const wb = (co * CinG + ci) * Kw;
        for (let k = 0; k < Kw; k++) {
          const wk = W[wb + k];
          const shift = k * p.dilation - p.padLeft;
          // t range where the input position t*stride + shift lies inside [0, L)
          const tLo = Math.max(0, Math.ceil(-shift / p.stride));
          const tHi = Math.min(Lout, Math.floor((L - 1 - shift) / p.stride) + 1);
          for (let t = tLo, xi = xb + tLo * p.stride + shift; t < tHi; t++, xi += p.stride) out[ob + t] += wk * X[xi];
        }
      }
    }
  }
  return toStorage(x.dtype, out);
}

/**
 * Depthwise, 4 taps, stride 1, dilation 1, float32: out[r, t] = bias + sum_k w[k] x[r, t + k - padLeft]
 * for rows r = b * C + c. Where the whole window lies inside the row, the four inputs slide
 * through registers (one new load per output); the padded edges check each tap. Sums run in
 * float64 in the order bias, k = 0..3 (the general loop rounds to float32 after each tap: the
 * two agree to float32 rounding).
 */
function depthwise4(X: Float32Array, W: Float32Array, bias: Float32Array | null, out: Float32Array, rows: number, C: number, L: number, Lout: number, padLeft: number): void {
  const tLo = Math.min(Lout, padLeft); // first t whose window starts inside the row
  const tHi = Math.max(tLo, Math.min(Lout, L - 3 + padLeft)); // first t whose window ends past it
  for (let r = 0; r < rows; r++) {
    const c = r % C;
    const xb = r * L;
    const ob = r * Lout;
    const w0 = W[4 * c];
    const w1 = W[4 * c + 1];
    const w2 = W[4 * c + 2];
    const w3 = W[4 * c + 3];
    const b0 = bias ? bias[c] : 0;
    for (let t = 0; t < tLo; t++) out[ob + t] = edgeTaps(X, W, xb, 4 * c, t - padLeft, L, b0);
    if (tHi > tLo) {
      let i = xb + tLo - padLeft;
      let x0 = X[i];
      let x1 = X[i + 1];
      let x2 = X[i + 2];
      for (let t = tLo; t < tHi; t++, i++) {
        const x3 = X[i + 3];
        out[ob + t] = b0 + w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
        x0 = x1;
        x1 = x2;
        x2 = x3;
      }
    }
    for (let t = tHi; t < Lout; t++) out[ob + t] = edgeTaps(X, W, xb, 4 * c, t - padLeft, L, b0);
  }
}

/** bias + the taps of a window starting at input position `at` whose inputs lie in [0, L). */
function edgeTaps(X: Float32Array, W: Float32Array, xb: number, wb: number, at: number, L: number, bias: number): number {
  let s = bias;
  for (let k = 0; k < 4; k++) {
    const i = at + k;
    if (i >= 0 && i < L) s += W[wb + k] * X[xb + i];
  }
  return s;
}

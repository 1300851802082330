/**
 * 1-D convolution on the cpu (cross-correlation, as torch.nn.functional.conv1d):
 *   out[b, co, t] = bias[co] + sum_{ci in group(co), k} x[b, ci, t*stride + k*dilation - padLeft] * w[co, ci', k]
 * Depthwise (groups == channels, the Mamba causal conv) takes a tight inner loop.
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

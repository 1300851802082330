/**
 * The TypeScript reference of the quantized matrix-vector product (same formula and group
 * order as wasm/qgemv.ts): y[n] = sum_g s[n,g] (sum_{k in g} x[k] v(q[n,k]) - z[n,g] sum_{k in g} x[k]).
 */
import type { PreparedLinear } from "./prepared";

export function qgemvReference(w: PreparedLinear, x: Float32Array, y: Float32Array): void {
  const { N, K, G } = w;
  const groups = K / G;
  for (let n = 0; n < N; n++) {
    let acc = 0;
    for (let g = 0; g < groups; g++) {
      let dot = 0;
      let xs = 0;
      for (let k = g * G; k < (g + 1) * G; k++) {
        let v: number;
        if (w.kind === "q8") v = (w.codes[n * K + k] << 24) >> 24;
        else {
          const byte = w.codes[(n * K + k) >> 1];
          v = w.kind === "u4" ? (k & 1 ? byte & 15 : byte >> 4) : w.table![2 * byte + (k & 1)];
        }
        dot += x[k] * v;
        xs += x[k];
      }
      const gi = n * groups + g;
      if (w.zeros) dot -= w.zeros[gi] * xs;
      acc += w.scales[gi] * dot;
    }
    y[n] = acc;
  }
}

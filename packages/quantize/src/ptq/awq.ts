/**
 * AWQ (Lin et al. 2024), as mit-han-lab/llm-awq `auto_scale._search_module_scale`: scale input
 * channel j of a linear weight by s_j before quantizing (and divide the input by s_j, a scale
 * folded into the previous layer), protecting the channels with large activations:
 *   x_max_j = mean |x_j| over the calibration tokens
 *   for alpha in {0, 1/20, ..., 19/20}:  s = max(x_max^alpha, 1e-4);  s /= sqrt(max s * min s)
 *     W' = Q(W diag(s)) diag(s)^-1;  error = mean((x W^T - x W'^T)^2)
 *   keep the alpha with the least error (alpha = 0 is round-to-nearest).
 * Q is the grouped asymmetric quantizer AWQ uses (`pseudo_quantize_tensor`): per group
 * s = max(max - min, 1e-5) / (2^b - 1), z = clamp(-round(min / s), 0, 2^b - 1).
 */
import { fail } from "../errors";
import { pack } from "../pack";
import { QuantizedTensor } from "../quantized-tensor";
import { roundHalfEven } from "../round";

export interface AWQOptions {
  bits: 2 | 3 | 4 | 8;
  groupSize: number;
  /** Grid points for alpha (default 20). */
  grid?: number;
  /**
   * Clip search after scaling (llm-awq `auto_clip_layer`): per output row and group, the
   * largest |w| allowed is max|w| (1 - i / 20) for i < 20 * maxShrink (default 0.5), chosen to
   * minimise the group's output error on the calibration inputs. Default true.
   */
  clip?: boolean;
  maxShrink?: number;
}

export interface AWQResult {
  /** The quantized W diag(s) [rows, cols]. */
  q: QuantizedTensor;
  /** Per-input-channel scales s: feed x / s (or fold 1/s into the previous layer). */
  scales: Float32Array;
  alpha: number;
  /** Mean squared output error of the chosen alpha and of round-to-nearest (alpha = 0). */
  error: number;
  rtnError: number;
}

/** AWQ's pseudo quantizer: codes, scales and zeros per group along the columns. */
function quantizeGroups(w: Float64Array, rows: number, cols: number, bits: number, group: number) {
  const maxq = 2 ** bits - 1;
  const nG = cols / group;
  const codes = new Int32Array(rows * cols);
  const scales = new Float32Array(rows * nG);
  const zeros = new Float32Array(rows * nG);
  const deq = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nG; g++) {
      let mn = Infinity;
      let mx = -Infinity;
      for (let k = g * group; k < (g + 1) * group; k++) {
        mn = Math.min(mn, w[r * cols + k]);
        mx = Math.max(mx, w[r * cols + k]);
      }
      const s = Math.max(mx - mn, 1e-5) / maxq;
      const z = Math.min(maxq, Math.max(0, -roundHalfEven(mn / s)));
      scales[r * nG + g] = s;
      zeros[r * nG + g] = z;
      for (let k = g * group; k < (g + 1) * group; k++) {
        const q = Math.min(maxq, Math.max(0, roundHalfEven(w[r * cols + k] / s) + z));
        codes[r * cols + k] = q;
        deq[r * cols + k] = (q - z) * s;
      }
    }
  }
  return { codes, scales, zeros, deq };
}

/** Mean squared difference of x W^T and x W'^T over calibration rows x [n, cols]. */
function outputError(x: Float32Array, n: number, w: Float32Array, wq: Float64Array, rows: number, cols: number): number {
  let total = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let k = 0; k < cols; k++) d += x[t * cols + k] * (w[r * cols + k] - wq[r * cols + k]);
      total += d * d;
    }
  }
  return total / (n * rows);
}

export function awq(weight: Float32Array, rows: number, cols: number, x: Float32Array, n: number, opts: AWQOptions): AWQResult {
  if (cols % opts.groupSize) fail("awq", `groupSize ${opts.groupSize} must divide the ${cols} input columns`);
  if (x.length !== n * cols) fail("awq", `calibration inputs hold ${x.length} values, not ${n} rows of ${cols}`);
  const xMax = new Float64Array(cols);
  for (let t = 0; t < n; t++) for (let k = 0; k < cols; k++) xMax[k] += Math.abs(x[t * cols + k]) / n;
  const grid = opts.grid ?? 20;
  let best: { alpha: number; s: Float64Array; error: number } | null = null;
  let rtnError = NaN;
  for (let i = 0; i < grid; i++) {
    const alpha = i / grid;
    const s = xMax.map((m) => Math.max(m ** alpha, 1e-4));
    let smax = -Infinity;
    let smin = Infinity;
    for (const v of s) {
      smax = Math.max(smax, v);
      smin = Math.min(smin, v);
    }
    const norm = Math.sqrt(smax * smin);
    for (let k = 0; k < cols; k++) s[k] /= norm;
    const scaled = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) scaled[r * cols + k] = weight[r * cols + k] * s[k];
    const { deq } = quantizeGroups(scaled, rows, cols, opts.bits, opts.groupSize);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) deq[r * cols + k] /= s[k];
    const error = outputError(x, n, weight, deq, rows, cols);
    if (i === 0) rtnError = error;
    if (!best || error < best.error) best = { alpha, s, error };
  }
  const b = best!;
  const scaled = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) scaled[r * cols + k] = weight[r * cols + k] * b.s[k];
  if (opts.clip ?? true) clipSearch(scaled, rows, cols, x, n, b.s, opts);
  const g = quantizeGroups(scaled, rows, cols, opts.bits, opts.groupSize);
  const q = new QuantizedTensor(
    [rows, cols],
    { type: "int", bits: opts.bits, symmetric: false, granularity: { kind: "group", size: opts.groupSize } },
    pack(g.codes, opts.bits),
    g.scales,
    [rows, cols / opts.groupSize],
    g.zeros,
  );
  const deq = g.deq.map((v, i) => v / b.s[i % cols]);
  return { q, scales: Float32Array.from(b.s), alpha: b.alpha, error: outputError(x, n, weight, deq, rows, cols), rtnError };
}

/** llm-awq's auto_clip: per (row, group), clip the scaled weight to the max |w| shrink with the least output error. */
function clipSearch(w: Float64Array, rows: number, cols: number, x: Float32Array, n: number, s: Float64Array, opts: AWQOptions): void {
  const G = opts.groupSize;
  const grid = 20;
  const steps = Math.floor(grid * (opts.maxShrink ?? 0.5));
  const maxq = 2 ** opts.bits - 1;
  // The inputs the scaled weight sees: x / s.
  const xs = Float64Array.from(x, (v, i) => v / s[i % cols]);
  for (let r = 0; r < rows; r++) {
    for (let g0 = 0; g0 < cols; g0 += G) {
      const orig = w.slice(r * cols + g0, r * cols + g0 + G);
      let amax = 0;
      for (const v of orig) amax = Math.max(amax, Math.abs(v));
      let best = { err: Infinity, lim: amax };
      for (let i = 0; i < steps; i++) {
        const lim = amax * (1 - i / grid);
        let mn = Infinity;
        let mx = -Infinity;
        const c = orig.map((v) => Math.min(lim, Math.max(-lim, v)));
        for (const v of c) {
          mn = Math.min(mn, v);
          mx = Math.max(mx, v);
        }
        const sc = Math.max(mx - mn, 1e-5) / maxq;
        const z = Math.min(maxq, Math.max(0, -roundHalfEven(mn / sc)));
        const dq = c.map((v) => (Math.min(maxq, Math.max(0, roundHalfEven(v / sc) + z)) - z) * sc);
        let err = 0;
        for (let t = 0; t < n; t++) {
          let d = 0;
          for (let k = 0; k < G; k++) d += xs[t * cols + g0 + k] * (orig[k] - dq[k]);
          err += d * d;
        }
        if (err < best.err) best = { err, lim };
      }
      for (let k = 0; k < G; k++) w[r * cols + g0 + k] = Math.min(best.lim, Math.max(-best.lim, orig[k]));
    }
  }
}

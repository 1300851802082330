/**
 * GPTQ (Frantar et al. 2023), as IST-DASLab/gptq `GPTQ.fasterquant`: quantize a linear weight
 * W [rows = out, cols = in] column by column, pushing each column's rounding error onto the
 * columns not yet quantized through the inverse Hessian of the layer's inputs:
 *   H = (2 / n) sum_x x x^T   (accumulated over calibration batches, running mean)
 *   dead inputs (H_ii = 0): H_ii = 1, W[:, i] = 0;  H += damp * mean(diag H) * I
 *   U = upper Cholesky factor of H^{-1}
 *   for each block of `blockSize` columns, for each column i:
 *     q_i = Q(w_i);  err = (w_i - q_i) / U_ii;  W[:, i:] -= err U[i, i:]   (inside the block)
 *   then the block's errors update the later columns at once ("lazy batch" updates).
 * `actOrder` quantizes columns by decreasing H_ii (the reference's --act-order); with groups it
 * uses static groups (parameters from the original weight, the reference's --static-groups) so
 * groups stay contiguous. The quantizer is the reference's min-max with 0 inside the range
 * (asymmetric), or symmetric with the zero point at (2^b)/2.
 */
import { fail } from "../errors";
import type { QuantFormat } from "../formats/types";
import { QuantizedTensor } from "../quantized-tensor";
import { pack } from "../pack";
import { roundHalfEven } from "../round";
import { choleskyInverse, cholesky, choleskyUpper } from "./linalg";

export interface GPTQOptions {
  bits: 2 | 3 | 4 | 8;
  /** Columns per group of quantization parameters; 0 (default) for one per output row. */
  groupSize?: number;
  symmetric?: boolean;
  /** Damping as a fraction of the mean Hessian diagonal (default 0.01). */
  percDamp?: number;
  /** Columns per lazy-batch block (default 128). */
  blockSize?: number;
  actOrder?: boolean;
}

/** Accumulates the Hessian 2/n sum x x^T of a layer's inputs over calibration batches. */
export class HessianAccumulator {
  readonly H: Float64Array;
  samples = 0;
  constructor(readonly columns: number) {
    this.H = new Float64Array(columns * columns);
  }

  /** x: rows of inputs [n, columns] (row-major). */
  add(x: Float32Array | Float64Array, n: number): void {
    const c = this.columns;
    if (x.length !== n * c) fail("HessianAccumulator.add", `${x.length} values are not ${n} rows of ${c}`);
    const total = this.samples + n;
    const keep = this.samples / total;
    for (let i = 0; i < this.H.length; i++) this.H[i] *= keep;
    const f = 2 / total;
    for (let r = 0; r < n; r++) {
      const row = r * c;
      for (let i = 0; i < c; i++) {
        const xi = x[row + i] * f;
        if (xi === 0) continue;
        for (let j = 0; j <= i; j++) this.H[i * c + j] += xi * x[row + j];
      }
    }
    for (let i = 0; i < c; i++) for (let j = 0; j < i; j++) this.H[j * c + i] = this.H[i * c + j];
    this.samples = total;
  }
}

interface Params {
  scale: number;
  zero: number;
}

function findParams(values: ArrayLike<number>, maxq: number, symmetric: boolean): Params {
  let mn = 0;
  let mx = 0;
  for (let i = 0; i < values.length; i++) {
    mn = Math.min(mn, values[i]);
    mx = Math.max(mx, values[i]);
  }
  if (symmetric) {
    mx = Math.max(-mn, mx);
    if (mn < 0) mn = -mx;
  }
  if (mn === 0 && mx === 0) [mn, mx] = [-1, 1];
  const scale = Math.fround((mx - mn) / maxq);
  const zero = symmetric ? (maxq + 1) / 2 : roundHalfEven(-mn / scale);
  return { scale, zero };
}

const qcode = (w: number, p: Params, maxq: number) => Math.min(maxq, Math.max(0, roundHalfEven(w / p.scale) + p.zero));

/** GPTQ of W [rows, cols] (row-major) with the Hessian of its inputs; returns an asymmetric int QuantizedTensor. */
export function gptq(weight: Float32Array, rows: number, cols: number, H0: Float64Array, opts: GPTQOptions): QuantizedTensor {
  const op = "gptq";
  const maxq = 2 ** opts.bits - 1;
  const group = opts.groupSize ?? 0;
  const sym = opts.symmetric ?? false;
  const blockSize = opts.blockSize ?? 128;
  if (group && cols % group !== 0) fail(op, `groupSize ${group} must divide the ${cols} input columns`);
  if (H0.length !== cols * cols) fail(op, `the Hessian must be [${cols}, ${cols}]`);
  const W = Float64Array.from(weight);
  const H = Float64Array.from(H0);
  for (let i = 0; i < cols; i++) {
    if (H[i * cols + i] === 0) {
      H[i * cols + i] = 1;
      for (let r = 0; r < rows; r++) W[r * cols + i] = 0;
    }
  }
  // Static groups (and per-row parameters) come from the weight before any update.
  const nGroups = group ? cols / group : 1;
  const params: Params[] = new Array(rows * nGroups);
  const staticParams = () => {
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < nGroups; g++) params[r * nGroups + g] = findParams(W.subarray(r * cols + g * (group || cols), r * cols + (g + 1) * (group || cols)), maxq, sym);
  };
  if (!group || opts.actOrder) staticParams();
  let perm = Array.from({ length: cols }, (_, i) => i);
  if (opts.actOrder) perm = perm.sort((a, b) => H[b * cols + b] - H[a * cols + a] || a - b);
  // Permuted copies: Wp[r][j] = W[r][perm[j]], Hp[i][j] = H[perm[i]][perm[j]].
  const Wp = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) Wp[r * cols + j] = W[r * cols + perm[j]];
  const Hp = new Float64Array(cols * cols);
  let diagMean = 0;
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) Hp[i * cols + j] = H[perm[i] * cols + perm[j]];
  for (let i = 0; i < cols; i++) diagMean += Hp[i * cols + i] / cols;
  const damp = (opts.percDamp ?? 0.01) * diagMean;
  for (let i = 0; i < cols; i++) Hp[i * cols + i] += damp;
  const U = choleskyUpper(choleskyInverse(cholesky(Hp, cols, op), cols), cols, op);

  const codes = new Int32Array(rows * cols); // in the original column order
  const err = new Float64Array(rows * blockSize);
  for (let i1 = 0; i1 < cols; i1 += blockSize) {
    const i2 = Math.min(cols, i1 + blockSize);
    for (let i = i1; i < i2; i++) {
      const col = perm[i];
      const g = group ? Math.floor(col / group) : 0;
      if (group && !opts.actOrder && col % group === 0) {
        // Parameters of the group starting here, from the current (partially updated) weight.
        for (let r = 0; r < rows; r++) {
          const vals = new Float64Array(group);
          for (let k = 0; k < group; k++) vals[k] = Wp[r * cols + i + k];
          params[r * nGroups + g] = findParams(vals, maxq, sym);
        }
      }
      const d = U[i * cols + i];
      for (let r = 0; r < rows; r++) {
        const p = params[r * nGroups + g];
        const w = Wp[r * cols + i];
        const q = qcode(w, p, maxq);
        codes[r * cols + col] = q;
        const e = (w - p.scale * (q - p.zero)) / d;
        err[r * blockSize + (i - i1)] = e;
        for (let j = i + 1; j < i2; j++) Wp[r * cols + j] -= e * U[i * cols + j];
      }
    }
    // Lazy batch: the block's errors update every later column at once.
    for (let r = 0; r < rows; r++) {
      for (let j = i2; j < cols; j++) {
        let s = 0;
        for (let i = i1; i < i2; i++) s += err[r * blockSize + (i - i1)] * U[i * cols + j];
        Wp[r * cols + j] -= s;
      }
    }
  }
  const format: QuantFormat = { type: "int", bits: opts.bits, symmetric: false, granularity: group ? { kind: "group", size: group } : { kind: "channel", axis: 0 } };
  const scales = Float32Array.from(params, (p) => p.scale);
  const zeros = Float32Array.from(params, (p) => p.zero);
  return new QuantizedTensor([rows, cols], format, pack(codes, opts.bits), scales, group ? [rows, nGroups] : [rows], zeros);
}

/** Round-to-nearest with GPTQ's quantizer (the baseline GPTQ is compared with). */
export function rtn(weight: Float32Array, rows: number, cols: number, opts: Pick<GPTQOptions, "bits" | "groupSize" | "symmetric">): QuantizedTensor {
  const H = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) H[i * cols + i] = 1;
  // With H = I no error is propagated (U is diagonal): GPTQ reduces to round-to-nearest.
  return gptq(weight, rows, cols, H, { ...opts, percDamp: 0 });
}

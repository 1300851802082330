/**
 * 2:4 semi-structured sparsity (NVIDIA Ampere's sparse tensor cores; Mishra et al. 2021): in
 * every run of four consecutive weights along the input axis, the two of largest magnitude are
 * kept (ties: the lower index) and the other two are zero. Stored compressed: the kept values
 * [N, K/2] and, per group, the two kept positions (2 bits each, one byte per group). The masked
 * product y = x (W ⊙ M)^T reads half the weights.
 */
import { tensor, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";

export interface Sparse24 {
  rows: number;
  cols: number;
  /** Kept values, row-major [rows, cols / 2]. */
  values: Float32Array;
  /** Per group of four: (first kept index) | (second kept index) << 2. */
  indices: Uint8Array;
}

/** Magnitude pruning of W [rows, cols] (cols a multiple of 4) to 2:4. */
export function prune24(w: Tensor): Sparse24 {
  if (w.rank !== 2 || w.shape[1] % 4 !== 0) fail("prune24", `weight must be [out, in] with in a multiple of 4, got [${w.shape}]`);
  if (!w.canReadSync) fail("prune24", `weight lives on '${w.backend}': move it to cpu first`);
  const [rows, cols] = w.shape;
  const v = w.dataSync();
  const groups = (rows * cols) / 4;
  const values = new Float32Array((rows * cols) / 2);
  const indices = new Uint8Array(groups);
  for (let g = 0; g < groups; g++) {
    const o = 4 * g;
    // The two largest |w| of four (stable: lower index first on ties).
    const order = [0, 1, 2, 3].sort((a, b) => Math.abs(v[o + b]) - Math.abs(v[o + a]) || a - b);
    const [i, j] = order[0] < order[1] ? [order[0], order[1]] : [order[1], order[0]];
    values[2 * g] = v[o + i];
    values[2 * g + 1] = v[o + j];
    indices[g] = i | (j << 2);
  }
  return { rows, cols, values, indices };
}

/** The dense masked weight W ⊙ M [rows, cols]. */
export function densify24(s: Sparse24): Float32Array {
  const out = new Float32Array(s.rows * s.cols);
  for (let g = 0; g < s.indices.length; g++) {
    out[4 * g + (s.indices[g] & 3)] = s.values[2 * g];
    out[4 * g + (s.indices[g] >> 2)] = s.values[2 * g + 1];
  }
  return out;
}

/** y = x (W ⊙ M)^T for x [..., cols] (cpu), reading only the kept weights. */
export function sparse24Linear(x: Tensor, s: Sparse24, bias?: Tensor | null): Tensor {
  const K = s.cols;
  if (x.shape[x.rank - 1] !== K) fail("sparse24Linear", `x [${x.shape}] has ${x.shape[x.rank - 1]} features; the weight [${s.rows}, ${K}] expects ${K}`);
  if (!x.canReadSync) fail("sparse24Linear", `x lives on '${x.backend}'; the 2:4 kernel runs on cpu`);
  const xv = x.dataSync();
  const M = xv.length / K;
  const N = s.rows;
  const b = bias?.dataSync();
  const out = new Float32Array(M * N);
  const gpr = K / 4; // groups per row
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let g = 0; g < gpr; g++) {
        const gi = n * gpr + g;
        const idx = s.indices[gi];
        acc += s.values[2 * gi] * xv[xo + 4 * g + (idx & 3)] + s.values[2 * gi + 1] * xv[xo + 4 * g + (idx >> 2)];
      }
      out[m * N + n] = b ? acc + b[n] : acc;
    }
  }
  return tensor(out, { shape: [...x.shape.slice(0, -1), N] });
}

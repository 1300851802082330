/**
 * The linear probe of the masked-pre-training experiments, after the MAE paper's protocol (He et
 * al. 2022, §A.2 / appendix "Linear probing"): frozen features, a BatchNorm without affine
 * parameters in front of the linear classifier (here: each feature standardised with the
 * training set's mean and variance, which is what that BatchNorm does at evaluation), then
 * softmax regression. Plain JS on host arrays (the features are small): full-batch AdamW, fixed
 * step count, zero init, so a probe is deterministic given its features.
 */

export interface ProbeOptions {
  classes: number;
  /** Full-batch optimisation steps. Default 300. */
  steps?: number;
  /** AdamW learning rate. Default 0.05. */
  lr?: number;
  /** Decoupled weight decay. Default 1e-3. */
  weightDecay?: number;
}

export interface ProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
  testCount: number;
}

/** Rows of `dim` features each (row-major), labels in [0, classes). */
export interface Features {
  x: Float32Array;
  y: ArrayLike<number>;
  dim: number;
}

/** Per-feature mean and 1 / sqrt(var + 1e-6) of the training features (BatchNorm's statistics, biased variance). */
export function standardizer(f: Features): { mean: Float64Array; invStd: Float64Array } {
  const n = f.y.length;
  const mean = new Float64Array(f.dim);
  const sq = new Float64Array(f.dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < f.dim; j++) mean[j] += f.x[i * f.dim + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < f.dim; j++) sq[j] += (f.x[i * f.dim + j] - mean[j]) ** 2 / n;
  return { mean, invStd: sq.map((v) => 1 / Math.sqrt(v + 1e-6)) };
}

function normalize(f: Features, s: { mean: Float64Array; invStd: Float64Array }): Float64Array {
  const out = new Float64Array(f.x.length);
  for (let i = 0; i < f.y.length; i++) for (let j = 0; j < f.dim; j++) out[i * f.dim + j] = (f.x[i * f.dim + j] - s.mean[j]) * s.invStd[j];
  return out;
}

function accuracyOf(x: Float64Array, y: ArrayLike<number>, w: Float64Array, b: Float64Array, dim: number, C: number): number {
  let right = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    let bestZ = -Infinity;
    for (let c = 0; c < C; c++) {
      let z = b[c];
      for (let j = 0; j < dim; j++) z += x[i * dim + j] * w[c * dim + j];
      if (z > bestZ) {
        bestZ = z;
        best = c;
      }
    }
    if (best === y[i]) right++;
  }
  return right / y.length;
}

/** Trains the probe on `train` and scores it on `test`. */
export function linearProbe(train: Features, test: Features, o: ProbeOptions): ProbeResult {
  const { classes: C, steps = 300, lr = 0.05, weightDecay = 1e-3 } = o;
  const dim = train.dim;
  if (test.dim !== dim) throw new Error(`linearProbe: train has ${dim} features, test ${test.dim}`);
  const s = standardizer(train);
  const xtr = normalize(train, s);
  const xte = normalize(test, s);
  const n = train.y.length;
  const P = C * dim + C;
  const theta = new Float64Array(P); // [w (C x dim), b (C)]
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const g = new Float64Array(P);
  const z = new Float64Array(C);
  const [b1, b2] = [0.9, 0.999];
  for (let step = 1; step <= steps; step++) {
    g.fill(0);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        let a = theta[C * dim + c];
        for (let j = 0; j < dim; j++) a += xtr[i * dim + j] * theta[c * dim + j];
        z[c] = a;
        if (a > max) max = a;
      }
      let sum = 0;
      for (let c = 0; c < C; c++) sum += z[c] = Math.exp(z[c] - max);
      for (let c = 0; c < C; c++) {
        const d = (z[c] / sum - (c === train.y[i] ? 1 : 0)) / n; // d(mean CE)/d logit
        for (let j = 0; j < dim; j++) g[c * dim + j] += d * xtr[i * dim + j];
        g[C * dim + c] += d;
      }
    }
    for (let k = 0; k < P; k++) {
      if (k < C * dim) theta[k] -= lr * weightDecay * theta[k];
      m[k] = b1 * m[k] + (1 - b1) * g[k];
      v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
      theta[k] -= (lr * (m[k] / (1 - b1 ** step))) / (Math.sqrt(v[k] / (1 - b2 ** step)) + 1e-8);
    }
  }
  const w = theta.subarray(0, C * dim);
  const b = theta.subarray(C * dim);
  return { trainAccuracy: accuracyOf(xtr, train.y, w, b, dim, C), testAccuracy: accuracyOf(xte, test.y, w, b, dim, C), testCount: test.y.length };
}

/**
 * gpu.js kernel sources. They are strings (gpu.js parses and transpiles them), so a bundler
 * cannot rename anything inside. Every kernel is 1-D over its output; inputs are flat float
 * arrays. `this.thread.x` is the output index.
 */
import type { UnaryOp } from "../backend";

/** erf (Abramowitz & Stegun 7.1.26 with a Taylor start near 0) as a gpu.js helper; |error| < 2e-7. */
export const ERF_FN = `function erf_(x) {
  const a = Math.abs(x);
  if (a < 0.5) {
    const z = x * x;
    return x * (1.1283791670955126 + z * (-0.37612638903183754 + z * (0.11283791670955126 + z * (-0.026866170645131252 + z * 0.005223977625442188))));
  }
  const t = 1.0 / (1.0 + 0.3275911 * a);
  const y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return x < 0 ? -y : y;
}`;

/** Unary ops gpu.js computes (value `v`; attributes a0, a1). */
export const UNARY_EXPR: Partial<Record<UnaryOp, string>> = {
  neg: "-v",
  abs: "Math.abs(v)",
  exp: "Math.exp(v)",
  expm1: "(Math.abs(v) < 1e-5 ? v + 0.5 * v * v : Math.exp(v) - 1.0)",
  log: "Math.log(v)",
  sqrt: "Math.sqrt(v)",
  rsqrt: "1.0 / Math.sqrt(v)",
  square: "v * v",
  reciprocal: "1.0 / v",
  tanh: "Math.tanh(v)",
  sigmoid: "1.0 / (1.0 + Math.exp(-v))",
  relu: "(v < 0.0 ? 0.0 : v)",
  gelu: "0.5 * v * (1.0 + erf_(v * 0.7071067811865476))",
  gelu_tanh: "0.5 * v * (1.0 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))",
  silu: "v / (1.0 + Math.exp(-v))",
  softplus: "(v * a0 > a1 ? v : Math.log(1.0 + Math.exp(v * a0)) / a0)",
  elu: "(v > 0.0 ? v : a0 * (Math.exp(v) - 1.0))",
  erf: "erf_(v)",
  sin: "Math.sin(v)",
  cos: "Math.cos(v)",
  floor: "Math.floor(v)",
  ceil: "Math.ceil(v)",
  trunc: "(v < 0.0 ? Math.ceil(v) : Math.floor(v))",
  clamp: "(v < a0 ? a0 : (v > a1 ? a1 : v))",
};

export function unarySource(op: UnaryOp): string {
  return `function (x, a0, a1) { const v = x[this.thread.x]; return ${UNARY_EXPR[op]}; }`;
}

/** Binary ops gpu.js computes on same-shape contiguous operands (comparisons give 1.0 / 0.0). */
export const BINARY_EXPR: Record<string, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  maximum: "Math.max(x, y)",
  minimum: "Math.min(x, y)",
  atan2: "Math.atan2(x, y)",
  eq: "(x == y ? 1.0 : 0.0)",
  ne: "(x != y ? 1.0 : 0.0)",
  lt: "(x < y ? 1.0 : 0.0)",
  le: "(x <= y ? 1.0 : 0.0)",
  gt: "(x > y ? 1.0 : 0.0)",
  ge: "(x >= y ? 1.0 : 0.0)",
};

export function binarySource(op: string): string {
  return `function (a, b) { const x = a[this.thread.x]; const y = b[this.thread.x]; return ${BINARY_EXPR[op]}; }`;
}

/** C[i] for i = m * N + n over one batch: sum_k A[aOff + m K + k] B[bOff + k N + n]. */
export const MATMUL = `function (a, b, K, N, aOff, bOff) {
  const m = Math.floor(this.thread.x / N);
  const n = this.thread.x - m * N;
  let s = 0.0;
  for (let k = 0; k < K; k++) { s += a[aOff + m * K + k] * b[bOff + k * N + n]; }
  return s;
}`;

/** Per-row statistics of a [rows, D] array (output index = row). */
export const ROW_SUM = `function (x, D) { let s = 0.0; for (let j = 0; j < D; j++) { s += x[this.thread.x * D + j]; } return s; }`;
export const ROW_MAX = `function (x, D) { let m = x[this.thread.x * D]; for (let j = 1; j < D; j++) { m = Math.max(m, x[this.thread.x * D + j]); } return m; }`;
export const ROW_MIN = `function (x, D) { let m = x[this.thread.x * D]; for (let j = 1; j < D; j++) { m = Math.min(m, x[this.thread.x * D + j]); } return m; }`;
export const ROW_SUMEXP = `function (x, mx, D) { let s = 0.0; const m = mx[this.thread.x]; for (let j = 0; j < D; j++) { s += Math.exp(x[this.thread.x * D + j] - m); } return s; }`;
export const ROW_SUMSQ_CENTRED = `function (x, mean, D) { let s = 0.0; const mu = mean[this.thread.x]; for (let j = 0; j < D; j++) { const d = x[this.thread.x * D + j] - mu; s += d * d; } return s; }`;
export const ROW_SUMSQ = `function (x, D) { let s = 0.0; for (let j = 0; j < D; j++) { const v = x[this.thread.x * D + j]; s += v * v; } return s; }`;

/** Elementwise passes that use the row statistics (row = floor(i / D)). */
export const SOFTMAX_APPLY = `function (x, mx, se, D) { const r = Math.floor(this.thread.x / D); return Math.exp(x[this.thread.x] - mx[r]) / se[r]; }`;
export const LOGSOFTMAX_APPLY = `function (x, mx, se, D) { const r = Math.floor(this.thread.x / D); return x[this.thread.x] - mx[r] - Math.log(se[r]); }`;
export const NORM_APPLY = `function (x, mean, rstd, w, b, D) { const r = Math.floor(this.thread.x / D); const j = this.thread.x - r * D; return (x[this.thread.x] - mean[r]) * rstd[r] * w[j] + b[j]; }`;
export const RMS_APPLY = `function (x, r, w, D) { const row = Math.floor(this.thread.x / D); const j = this.thread.x - row * D; return w[j] * (x[this.thread.x] * r[row]); }`;

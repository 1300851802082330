// Row and elementwise SIMD kernels (softmax, layerNorm, rmsNorm, transcendental unary ops) over
// contiguous float32 data in linear memory. Each takes a row or element range so threads can
// split the work.

import { erf4, exp4, hmax, hsum } from "./vmath";
import { exp_nonpos4 } from "./exp-nonpos";

/** Softmax (log = 0) or log-softmax (log = 1) of rows [r0, r1) of x [*, D] into out. */
export function softmax_rows(x: usize, out: usize, r0: i32, r1: i32, D: i32, log: i32): void {
  const D4 = D & ~3;
  for (let r = r0; r < r1; r++) {
    const xr = x + ((<usize>r * D) << 2);
    const orow = out + ((<usize>r * D) << 2);
    // Four independent maxima: one chain of pmax waits ~4 cycles per vector (its latency), four
    // overlap. pmax skips NaN (a NaN still makes the row NaN through the sum below); one
    // instruction on x86.
    const D16 = D & ~15;
    let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
    for (let j = 0; j < D16; j += 16) {
      const p = xr + (j << 2);
      m0 = f32x4.pmax(m0, v128.load(p));
      m1 = f32x4.pmax(m1, v128.load(p, 16));
      m2 = f32x4.pmax(m2, v128.load(p, 32));
      m3 = f32x4.pmax(m3, v128.load(p, 48));
    }
    for (let j = D16; j < D4; j += 4) m0 = f32x4.pmax(m0, v128.load(xr + (j << 2)));
    let m = hmax(f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3)));
    for (let j = D4; j < D; j++) m = max(m, load<f32>(xr + (j << 2)));
    if (m == -Infinity) {
      // A fully masked row: NaN, as PyTorch.
      for (let j = 0; j < D; j++) store<f32>(orow + (j << 2), NaN);
      continue;
    }
    const ms = f32x4.splat(m);
    // two sums, two vectors a step: the adds of one chain wait on each other
    let sv = f32x4.splat(0), sw = sv;
    let st: f32 = 0;
    const D8 = D & ~7;
    for (let j = 0; j < D8; j += 8) {
      const p = xr + (j << 2);
      const e0 = exp_nonpos4(f32x4.sub(v128.load(p), ms)); // x - max <= 0
      const e1 = exp_nonpos4(f32x4.sub(v128.load(p, 16), ms));
      if (!log) {
        v128.store(orow + (j << 2), e0);
        v128.store(orow + (j << 2), e1, 16);
      }
      sv = f32x4.add(sv, e0);
      sw = f32x4.add(sw, e1);
    }
    for (let j = D8; j < D4; j += 4) {
      const e = exp_nonpos4(f32x4.sub(v128.load(xr + (j << 2)), ms));
      if (!log) v128.store(orow + (j << 2), e);
      sv = f32x4.add(sv, e);
    }
    sv = f32x4.add(sv, sw);
    for (let j = D4; j < D; j++) {
      const e = f32x4.extract_lane(exp_nonpos4(f32x4.splat(load<f32>(xr + (j << 2)) - m)), 0);
      if (!log) store<f32>(orow + (j << 2), e);
      st += e;
    }
    const s = hsum(sv) + st;
    if (log) {
      const sh = f32x4.splat(m + Mathf.log(s));
      for (let j = 0; j < D4; j += 4) v128.store(orow + (j << 2), f32x4.sub(v128.load(xr + (j << 2)), sh));
      for (let j = D4; j < D; j++) store<f32>(orow + (j << 2), load<f32>(xr + (j << 2)) - (m + Mathf.log(s)));
    } else {
      const inv = f32x4.splat(1.0 / s);
      for (let j = 0; j < D4; j += 4) v128.store(orow + (j << 2), f32x4.mul(v128.load(orow + (j << 2)), inv));
      for (let j = D4; j < D; j++) store<f32>(orow + (j << 2), load<f32>(orow + (j << 2)) / s);
    }
  }
}

/**
 * LayerNorm (rms = 0) or RMSNorm (rms = 1) of rows [r0, r1): w and b may be 0 (absent).
 * Statistics in f32 vectors; the mean is subtracted before the variance (two passes).
 */
export function norm_rows(x: usize, w: usize, b: usize, out: usize, r0: i32, r1: i32, D: i32, epsBits: i32, rms: i32): void {
  const eps = reinterpret<f32>(epsBits);
  const D4 = D & ~3;
  for (let r = r0; r < r1; r++) {
    const xr = x + ((<usize>r * D) << 2);
    const orow = out + ((<usize>r * D) << 2);
    let mean: f32 = 0;
    if (!rms) {
      let sv = f32x4.splat(0);
      for (let j = 0; j < D4; j += 4) sv = f32x4.add(sv, v128.load(xr + (j << 2)));
      let s = hsum(sv);
      for (let j = D4; j < D; j++) s += load<f32>(xr + (j << 2));
      mean = s / <f32>D;
    }
    const mv = f32x4.splat(mean);
    let qv = f32x4.splat(0);
    for (let j = 0; j < D4; j += 4) {
      const d = f32x4.sub(v128.load(xr + (j << 2)), mv);
      qv = f32x4.add(qv, f32x4.mul(d, d));
    }
    let q = hsum(qv);
    for (let j = D4; j < D; j++) {
      const d = load<f32>(xr + (j << 2)) - mean;
      q += d * d;
    }
    const rstd: f32 = 1.0 / Mathf.sqrt(q / <f32>D + eps);
    const rv = f32x4.splat(rstd);
    for (let j = 0; j < D4; j += 4) {
      let y = f32x4.mul(f32x4.sub(v128.load(xr + (j << 2)), mv), rv);
      if (w) y = f32x4.mul(y, v128.load(w + (j << 2)));
      if (b) y = f32x4.add(y, v128.load(b + (j << 2)));
      v128.store(orow + (j << 2), y);
    }
    for (let j = D4; j < D; j++) {
      let y = (load<f32>(xr + (j << 2)) - mean) * rstd;
      if (w) y *= load<f32>(w + (j << 2));
      if (b) y += load<f32>(b + (j << 2));
      store<f32>(orow + (j << 2), y);
    }
  }
}

// @ts-ignore: decorator
@inline
function unary4(op: i32, v: v128): v128 {
  const one = f32x4.splat(1.0);
  if (op == 0) return exp4(v);
  if (op == 1) return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(v)))); // sigmoid
  if (op == 2) return f32x4.div(v, f32x4.add(one, exp4(f32x4.neg(v)))); // silu
  if (op == 3) return f32x4.mul(f32x4.mul(v, f32x4.splat(0.5)), f32x4.add(one, erf4(f32x4.mul(v, f32x4.splat(0.70710678118654752))))); // gelu
  // tanh (op 4) and gelu_tanh (op 5): tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|)
  let u = v;
  if (op == 5) u = f32x4.mul(f32x4.splat(0.79788456080286536), f32x4.add(v, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(v, f32x4.mul(v, v)))));
  const e = exp4(f32x4.mul(f32x4.splat(-2.0), f32x4.abs(u)));
  const t0 = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  const t = v128.or(v128.and(t0, i32x4.splat(0x7fffffff)), v128.and(u, i32x4.splat(0x80000000)));
  if (op == 4) return t;
  return f32x4.mul(f32x4.mul(v, f32x4.splat(0.5)), f32x4.add(one, t));
}

/** out[i] = op(x[i]) for i in [i0, i1): 0 exp, 1 sigmoid, 2 silu, 3 gelu (erf), 4 tanh, 5 gelu (tanh). */
export function unary_range(op: i32, x: usize, out: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) v128.store(out + (<usize>i << 2), unary4(op, v128.load(x + (<usize>i << 2))));
  for (; i < i1; i++) store<f32>(out + (<usize>i << 2), f32x4.extract_lane(unary4(op, f32x4.splat(load<f32>(x + (<usize>i << 2)))), 0));
}

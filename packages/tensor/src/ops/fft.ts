/**
 * Discrete Fourier transforms along the last axis, written as compositions of ops, so they run
 * on every backend and are differentiable with no extra kernels.
 *
 * Complex values are a trailing axis of 2 (re, im): a complex [..., n] signal is a real
 * [..., n, 2] tensor (as torch.view_as_real). Conventions follow numpy.fft / torch.fft with
 * norm = "backward": fft is unnormalised, ifft divides by n.
 *
 *   fft(x)[k]  = sum_j x[j] exp(-2 pi i jk / n)
 *   rfft(x)    = the first n/2 + 1 bins of fft of a real signal
 *   irfft(X,n) = the real inverse of a half spectrum (Hermitian extension; the imaginary parts
 *                of the DC and Nyquist bins are ignored, as numpy and torch do)
 *
 * Algorithm: iterative radix-2 Cooley-Tukey (decimation in time). One gather puts the input in
 * bit-reversed order; stage s (half-width h = 2^s) views the signal as [..., n/2h, 2, h] and
 * forms E + w.O and E - w.O with twiddles w_j = exp(-i pi j / h). log2(n) stages of a few
 * elementwise ops each: O(n log n). Lengths that are not powers of two use Bluestein's chirp-z
 * algorithm (Bluestein 1970): x_j w_j convolved with conj(w) via power-of-two FFTs of size
 * m >= 2n - 1, where w_j = exp(-i pi j^2 / n). Twiddles are computed in float64.
 */
import { fail, fmtShape } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { tensor, zerosLike } from "./creation";
import { add, mul, neg, sub } from "./elementwise";
import { indexSelect } from "./indexing";
import { concat, pad, stack } from "./join";
import { checkFloat } from "./util";
import { broadcastTo, narrow, reshape, select } from "./view";
import { broadcastShapes } from "../core/shape";

export type FFTNorm = "backward" | "ortho" | "forward";

/** A complex tensor kept as its two real parts, each [..., n]. */
interface Complex {
  re: Tensor;
  im: Tensor;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

function consts(values: Float64Array | number[], like: Tensor): Tensor {
  return tensor(Float32Array.from(values), { backend: like.backend });
}

function cmul(a: Complex, b: Complex): Complex {
  return { re: sub(mul(a.re, b.re), mul(a.im, b.im)), im: add(mul(a.re, b.im), mul(a.im, b.re)) };
}

function bitReversal(n: number): Int32Array {
  const bits = Math.log2(n);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
    idx[i] = r;
  }
  return idx;
}

/** Radix-2 FFT of a complex [..., n] (n a power of two); sign -1 forward, +1 inverse (unscaled). */
function fftPow2(x: Complex, sign: 1 | -1): Complex {
  const n = x.re.shape[x.re.rank - 1];
  if (n === 1) return x;
  const lead = x.re.shape.slice(0, -1);
  const perm = tensor(bitReversal(n), { dtype: "int32", backend: x.re.backend });
  let re = indexSelect(x.re, -1, perm); // [..., n] in bit-reversed order
  let im = indexSelect(x.im, -1, perm);
  for (let h = 1; h < n; h *= 2) {
    const wr = new Float64Array(h);
    const wi = new Float64Array(h);
    for (let j = 0; j < h; j++) {
      wr[j] = Math.cos((Math.PI * j) / h);
      wi[j] = sign * Math.sin((Math.PI * j) / h);
    }
    const shape = [...lead, n / (2 * h), 2, h];
    const r4 = reshape(re, shape); // [..., n/2h, 2, h]
    const i4 = reshape(im, shape);
    const axis = shape.length - 2;
    const E = { re: select(r4, axis, 0), im: select(i4, axis, 0) }; // [..., n/2h, h]
    const O = { re: select(r4, axis, 1), im: select(i4, axis, 1) };
    const t = cmul(O, { re: consts(wr, re), im: consts(wi, re) }); // w_j O_j
    re = reshape(stack([add(E.re, t.re), sub(E.re, t.re)], axis), [...lead, n]);
    im = reshape(stack([add(E.im, t.im), sub(E.im, t.im)], axis), [...lead, n]);
  }
  return { re, im };
}

/** Bluestein's chirp-z FFT for any n, through power-of-two FFTs of size m >= 2n - 1. */
function fftBluestein(x: Complex, sign: 1 | -1): Complex {
  const n = x.re.shape[x.re.rank - 1];
  let m = 1;
  while (m < 2 * n - 1) m *= 2;
  const cr = new Float64Array(n);
  const ci = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const ang = (Math.PI * ((j * j) % (2 * n))) / n; // j^2 mod 2n keeps the angle exact
    cr[j] = Math.cos(ang);
    ci[j] = sign * Math.sin(ang);
  }
  const w = { re: consts(cr, x.re), im: consts(ci, x.re) }; // chirp w_j = exp(sign i pi j^2/n)
  const a = cmul(x, w);
  const widths = (len: number): [number, number][] => [...x.re.shape.slice(0, -1).map((): [number, number] => [0, 0]), [0, len]];
  const ap = { re: pad(a.re, widths(m - n)), im: pad(a.im, widths(m - n)) }; // [..., m]
  // b_j = conj(w_j) for j in (-n, n), laid out circularly over m.
  const br = new Float64Array(m);
  const bi = new Float64Array(m);
  for (let j = 0; j < n; j++) {
    br[j] = cr[j];
    bi[j] = -ci[j];
    if (j > 0) {
      br[m - j] = cr[j];
      bi[m - j] = -ci[j];
    }
  }
  const B = fftPow2({ re: consts(br, x.re), im: consts(bi, x.re) }, -1);
  const A = fftPow2(ap, -1);
  const conv = fftPow2(cmul(A, B), 1);
  const scale = consts([1 / m], x.re);
  const head = { re: mul(narrow(conv.re, -1, 0, n), scale), im: mul(narrow(conv.im, -1, 0, n), scale) };
  return cmul(head, w);
}

function transform(x: Complex, sign: 1 | -1): Complex {
  const n = x.re.shape[x.re.rank - 1];
  return isPow2(n) ? fftPow2(x, sign) : fftBluestein(x, sign);
}

function split2(op: string, x: Tensor): Complex {
  checkFloat(op, "x", x);
  if (x.rank < 2 || x.shape[x.rank - 1] !== 2) fail(op, `x ${fmtShape(x.shape)} must be complex: a trailing axis of 2 (re, im)`);
  if (x.shape[x.rank - 2] < 1) fail(op, `x ${fmtShape(x.shape)} has an empty transform axis`);
  return { re: select(x, -1, 0), im: select(x, -1, 1) };
}

const join2 = (c: Complex): Tensor => stack([c.re, c.im], -1);

function scaled(c: Complex, s: number): Complex {
  if (s === 1) return c;
  const k = consts([s], c.re);
  return { re: mul(c.re, k), im: mul(c.im, k) };
}

function normScale(norm: FFTNorm, n: number, inverse: boolean): number {
  if (norm === "ortho") return 1 / Math.sqrt(n);
  if (norm === "forward") return inverse ? 1 : 1 / n;
  if (norm === "backward") return inverse ? 1 / n : 1;
  fail("fft", `norm must be 'backward', 'ortho' or 'forward', got '${String(norm)}'`);
}

export interface FFTOptions {
  /** Scaling convention (numpy/torch): 'backward' (default: 1/n on the inverse), 'ortho', 'forward'. */
  norm?: FFTNorm;
}

/** Complex FFT along the transform axis: x [..., n, 2] -> [..., n, 2]. */
export function fft(x: Tensor, opts: FFTOptions = {}): Tensor {
  const c = split2("fft", x);
  const n = c.re.shape[c.re.rank - 1];
  return join2(scaled(transform(c, -1), normScale(opts.norm ?? "backward", n, false)));
}

/** Inverse complex FFT: x [..., n, 2] -> [..., n, 2]. */
export function ifft(x: Tensor, opts: FFTOptions = {}): Tensor {
  const c = split2("ifft", x);
  const n = c.re.shape[c.re.rank - 1];
  return join2(scaled(transform(c, 1), normScale(opts.norm ?? "backward", n, true)));
}

/** Resizes the last axis to n: truncates or zero-pads at the end (numpy's `n` argument). */
function fitLength(x: Tensor, n: number): Tensor {
  const len = x.shape[x.rank - 1];
  if (n === len) return x;
  if (n < len) return narrow(x, -1, 0, n);
  return pad(x, [...x.shape.slice(0, -1).map((): [number, number] => [0, 0]), [0, n - len]]);
}

function checkLength(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) fail(op, `n must be a positive integer, got ${n}`);
}

/** FFT of a real signal: x [..., L] -> [..., n/2 + 1, 2] (n defaults to L; pads or truncates). */
export function rfft(x: Tensor, n?: number, opts: FFTOptions = {}): Tensor {
  checkFloat("rfft", "x", x);
  if (x.rank < 1) fail("rfft", `x ${fmtShape(x.shape)} needs at least one axis`);
  const len = n ?? x.shape[x.rank - 1];
  checkLength("rfft", len);
  const re = fitLength(x, len);
  const full = transform({ re, im: zerosLike(re) }, -1);
  const half = Math.floor(len / 2) + 1;
  const s = normScale(opts.norm ?? "backward", len, false);
  return join2(scaled({ re: narrow(full.re, -1, 0, half), im: narrow(full.im, -1, 0, half) }, s));
}

/**
 * Real inverse FFT of a half spectrum: X [..., m, 2] -> [..., n] with n = 2(m - 1) by default.
 * Bins past n/2 + 1 are dropped and missing ones are zero (as numpy).
 */
export function irfft(X: Tensor, n?: number, opts: FFTOptions = {}): Tensor {
  const c = split2("irfft", X);
  const m = c.re.shape[c.re.rank - 1];
  const len = n ?? 2 * (m - 1);
  checkLength("irfft", len);
  const half = Math.floor(len / 2) + 1;
  let re = fitLength(c.re, half); // [..., n/2 + 1]
  let im = fitLength(c.im, half);
  // The DC bin (and the Nyquist bin for even n) of a real signal is real.
  const keep = new Float64Array(half).fill(1);
  keep[0] = 0;
  if (len % 2 === 0) keep[half - 1] = 0;
  im = mul(im, consts(keep, im));
  // Hermitian extension: X[n - k] = conj(X[k]) for k = 1 .. ceil(n/2) - 1.
  const tail = Math.ceil(len / 2) - 1;
  if (tail > 0) {
    const idx = Int32Array.from({ length: tail }, (_, j) => tail - j); // k = tail .. 1
    const sel = tensor(idx, { dtype: "int32", backend: re.backend });
    re = concat([re, indexSelect(re, -1, sel)], -1);
    im = concat([im, neg(indexSelect(im, -1, sel))], -1);
  }
  const out = transform({ re, im }, 1).re; // [..., n]
  const s = normScale(opts.norm ?? "backward", len, true);
  return s === 1 ? out : mul(out, consts([s], out));
}

/**
 * Causal linear convolution by FFT: y[..., t] = sum_{s<=t} k[..., s] x[..., t - s] for
 * t < L (x [..., L], k broadcastable [..., Lk], Lk <= L). Pads to a power of two >= L + Lk - 1
 * so the circular convolution equals the linear one (S4's long convolution).
 */
export function fftConv(x: Tensor, k: Tensor): Tensor {
  checkFloat("fftConv", "x", x);
  checkFloat("fftConv", "k", k);
  const L = x.shape[x.rank - 1];
  const Lk = k.shape[k.rank - 1];
  if (x.rank < 1 || k.rank < 1 || Lk > L) fail("fftConv", `x ${fmtShape(x.shape)} and kernel ${fmtShape(k.shape)}: the kernel must not be longer than the signal`);
  let n = 1;
  while (n < L + Lk - 1) n *= 2;
  const X = rfft(x, n); // [..., n/2+1, 2]
  const K = rfft(k, n);
  const xr = select(X, -1, 0);
  const xi = select(X, -1, 1);
  const kr = select(K, -1, 0);
  const ki = select(K, -1, 1);
  const prod = cmul({ re: xr, im: xi }, { re: kr, im: ki });
  const y = irfft(stack([prod.re, prod.im], -1), n);
  return narrow(y, -1, 0, L);
}

/** Builds a complex tensor [..., 2] from real and imaginary parts (broadcasting). */
export function complex(re: Tensor, im: Tensor): Tensor {
  checkFloat("complex", "re", re);
  checkFloat("complex", "im", im);
  const shape = broadcastShapes("complex", re.shape, im.shape);
  return stack([broadcastTo(re, shape), broadcastTo(im, shape)], -1);
}

/** Real and imaginary parts of a complex tensor [..., 2]. */
export function complexParts(x: Tensor): { re: Tensor; im: Tensor } {
  if (x.rank < 1 || x.shape[x.rank - 1] !== 2) fail("complexParts", `x ${fmtShape(x.shape)} must have a trailing axis of 2 (re, im)`);
  return { re: select(x, -1, 0), im: select(x, -1, 1) };
}

/**
 * Seeded random tensors. Numbers come from Philox4x32-10 on the host and are uploaded, so one
 * seed gives the same values on every backend.
 */
import { isFloat, type DType } from "../core/dtype";
import { backendInstance, tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { sizeOf, validateShape } from "../core/shape";
import type { Tensor } from "../core/tensor";
import { cast } from "../ops/convert";
import { div, lt, mul } from "../ops/elementwise";
import { asTensor, fromValues, type TensorLike } from "../ops/util";
import { philoxWords } from "./philox";

/**
 * A random stream: a seed and a position (in 128-bit Philox blocks). Each draw advances the
 * position, so consecutive calls give fresh numbers; `new Generator(s)` replays them.
 */
export class Generator {
  private offset = 0;
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) fail("Generator", `seed must be a non-negative safe integer, got ${seed}`);
  }

  /** `n` words, advancing the stream. */
  words(n: number): Uint32Array {
    const w = philoxWords(this.seed, this.offset, n);
    this.offset += Math.ceil(n / 4);
    return w;
  }
}

let defaultGenerator = new Generator(0);

/** Reseeds the default generator (as torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}

export interface RandomOptions {
  dtype?: DType;
  backend?: string;
  /** A seed (a fresh generator for this call) or a generator to draw from; default: the global one. */
  seed?: number | Generator;
}

function generator(opts: RandomOptions): Generator {
  if (opts.seed === undefined) return defaultGenerator;
  return typeof opts.seed === "number" ? new Generator(opts.seed) : opts.seed;
}

/** Uniform floats in [0, 1) with 24 random bits (exact in float32). */
function uniform01(g: Generator, n: number): Float64Array {
  const w = g.words(n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (w[i] >>> 8) * 2 ** -24;
  return out;
}

function floatDtype(op: string, opts: RandomOptions): DType {
  const d = opts.dtype ?? "float32";
  if (!isFloat(d)) fail(op, `dtype must be a float type, got ${d}`);
  return d;
}

/** Uniform samples in [low, high). */
export function uniform(shape: readonly number[], low = 0, high = 1, opts: RandomOptions = {}): Tensor {
  const s = validateShape("uniform", shape);
  const u = uniform01(generator(opts), sizeOf(s));
  for (let i = 0; i < u.length; i++) u[i] = low + (high - low) * u[i];
  return fromValues(u, s, floatDtype("uniform", opts), backendInstance(opts.backend));
}

/** Normal samples (Box-Muller on pairs of Philox uniforms). */
export function normal(shape: readonly number[], mean = 0, std = 1, opts: RandomOptions = {}): Tensor {
  const s = validateShape("normal", shape);
  const n = sizeOf(s);
  const u = uniform01(generator(opts), n + (n % 2));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i])); // 1 - u in (0, 1]
    const th = 2 * Math.PI * u[i + 1];
    out[i] = mean + std * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(th);
  }
  return fromValues(out, s, floatDtype("normal", opts), backendInstance(opts.backend));
}

/** Integers uniform in [low, high) (int32). */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const s = validateShape("randint", shape);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) fail("randint", `needs integers low < high, got [${low}, ${high})`);
  const range = high - low;
  const w = generator(opts).words(sizeOf(s));
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = low + Math.floor((w[i] / 2 ** 32) * range);
  return fromValues(out, s, opts.dtype ?? "int32", backendInstance(opts.backend));
}

/** 1 with probability p (a number or a tensor of probabilities), else 0. */
export function bernoulli(p: TensorLike, shape?: readonly number[], opts: RandomOptions = {}): Tensor {
  const pt = typeof p === "number" ? fromValues([p], [], "float32", backendInstance(opts.backend)) : asTensor("bernoulli", "p", p);
  const s = shape ?? pt.shape;
  const out = tidy(() => cast(lt(uniform(s, 0, 1, { ...opts, backend: pt.backend }), pt), opts.dtype ?? "float32"));
  if (pt !== p) pt.dispose();
  return out;
}

/** Inverted dropout: zeroes each entry with probability p and scales the rest by 1/(1-p). */
export function dropout(x: TensorLike, p: number, opts: RandomOptions & { training?: boolean } = {}): Tensor {
  const t = asTensor("dropout", "x", x);
  if (!(p >= 0 && p < 1)) fail("dropout", `p must lie in [0, 1), got ${p} for x ${fmtShape(t.shape)}`);
  if (opts.training === false || p === 0) return mul(t, 1);
  return tidy(() => {
    const keepMask = bernoulli(1 - p, t.shape, { seed: opts.seed, backend: t.backend, dtype: t.dtype });
    return div(mul(t, keepMask), 1 - p);
  });
}

/**
 * Range estimators for activation quantization (what PyTorch's observers and the PTQ literature
 * use), fed calibration batches with `observe` and asked for a clipping range with `range`:
 *  - MinMaxObserver: the running min and max;
 *  - EmaObserver: exponential moving averages of each batch's min and max (momentum m:
 *    r <- m r + (1 - m) r_batch; the first batch initialises);
 *  - PercentileObserver: the p-th and (100 - p)-th percentiles of a uniform reservoir sample
 *    (clips rare outliers);
 *  - MseObserver: the range alpha [min, max], alpha on a grid down to 1 - maxShrink, minimising
 *    the quantize-dequantize error of the sample at `bits` (GPTQ's `mse` search).
 * `qparams(range, bits, symmetric)` turns a range into a scale and zero point.
 */
import { isTensor, type Tensor, HostRandom } from "@tessera/tensor";
import { fail } from "../errors";
import { roundHalfEven } from "../round";

export interface Range {
  min: number;
  max: number;
}

export interface RangeObserver {
  observe(x: Tensor | ArrayLike<number>): void;
  range(): Range;
}

const values = (x: Tensor | ArrayLike<number>): ArrayLike<number> => (isTensor(x) ? x.dataSync() : x);

function batchRange(v: ArrayLike<number>): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) {
    if (v[i] < min) min = v[i];
    if (v[i] > max) max = v[i];
  }
  return { min, max };
}

function need(r: Range | null, name: string): Range {
  if (!r) fail(name, "no batch observed yet");
  return r;
}

export class MinMaxObserver implements RangeObserver {
  private r: Range | null = null;
  observe(x: Tensor | ArrayLike<number>): void {
    const b = batchRange(values(x));
    this.r = this.r ? { min: Math.min(this.r.min, b.min), max: Math.max(this.r.max, b.max) } : b;
  }

  range(): Range {
    return need(this.r, "MinMaxObserver");
  }
}

export class EmaObserver implements RangeObserver {
  private r: Range | null = null;
  constructor(readonly momentum = 0.9) {
    if (!(momentum >= 0 && momentum < 1)) fail("EmaObserver", `momentum must lie in [0, 1), got ${momentum}`);
  }

  observe(x: Tensor | ArrayLike<number>): void {
    const b = batchRange(values(x));
    const m = this.momentum;
    this.r = this.r ? { min: m * this.r.min + (1 - m) * b.min, max: m * this.r.max + (1 - m) * b.max } : b;
  }

  range(): Range {
    return need(this.r, "EmaObserver");
  }
}

/** A uniform reservoir sample (Vitter's algorithm R) drawn with a seeded HostRandom. */
class Reservoir {
  readonly sample: Float64Array;
  size = 0;
  private seen = 0;
  private readonly rng: HostRandom;
  constructor(capacity: number, seed: number) {
    this.sample = new Float64Array(capacity);
    this.rng = new HostRandom(seed);
  }

  private rand(): number {
    return this.rng.uniform();
  }

  add(v: ArrayLike<number>): void {
    for (let i = 0; i < v.length; i++, this.seen++) {
      if (this.size < this.sample.length) this.sample[this.size++] = v[i];
      else {
        const j = Math.floor(this.rand() * (this.seen + 1));
        if (j < this.sample.length) this.sample[j] = v[i];
      }
    }
  }

  sorted(): Float64Array {
    return this.sample.slice(0, this.size).sort();
  }
}

export class PercentileObserver implements RangeObserver {
  private readonly reservoir: Reservoir;
  constructor(
    readonly percentile = 99.99,
    capacity = 1 << 20,
    seed = 1,
  ) {
    if (!(percentile > 50 && percentile <= 100)) fail("PercentileObserver", `percentile must lie in (50, 100], got ${percentile}`);
    this.reservoir = new Reservoir(capacity, seed);
  }

  observe(x: Tensor | ArrayLike<number>): void {
    this.reservoir.add(values(x));
  }

  range(): Range {
    if (!this.reservoir.size) fail("PercentileObserver", "no batch observed yet");
    const s = this.reservoir.sorted();
    const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round((p / 100) * (s.length - 1))))];
    return { min: at(100 - this.percentile), max: at(this.percentile) };
  }
}

export class MseObserver implements RangeObserver {
  private readonly reservoir: Reservoir;
  constructor(
    readonly bits = 8,
    readonly symmetric = false,
    readonly grid = 100,
    readonly maxShrink = 0.8,
    capacity = 1 << 18,
    seed = 1,
  ) {
    this.reservoir = new Reservoir(capacity, seed);
  }

  observe(x: Tensor | ArrayLike<number>): void {
    this.reservoir.add(values(x));
  }

  range(): Range {
    if (!this.reservoir.size) fail("MseObserver", "no batch observed yet");
    const s = this.reservoir.sample.subarray(0, this.reservoir.size);
    const full = batchRange(s);
    let best = { err: Infinity, r: full };
    for (let i = 0; i <= this.grid * this.maxShrink; i++) {
      const a = 1 - i / this.grid;
      const r = { min: full.min * a, max: full.max * a };
      const { scale, zero } = qparams(r, this.bits, this.symmetric);
      const qmax = 2 ** this.bits - 1;
      let err = 0;
      for (let k = 0; k < s.length; k++) {
        const q = Math.min(qmax, Math.max(0, roundHalfEven(s[k] / scale) + zero));
        err += (s[k] - (q - zero) * scale) ** 2;
      }
      if (err < best.err) best = { err, r };
    }
    return best.r;
  }
}

/** Scale and zero point of a range (0 always inside it, as PyTorch's observers). Codes lie in [0, 2^bits - 1]. */
export function qparams(r: Range, bits: number, symmetric: boolean): { scale: number; zero: number } {
  const qmax = 2 ** bits - 1;
  let min = Math.min(r.min, 0);
  let max = Math.max(r.max, 0);
  if (symmetric) {
    max = Math.max(-min, max);
    min = -max;
  }
  const scale = max > min ? Math.fround((max - min) / qmax) : 1;
  const zero = symmetric ? (qmax + 1) / 2 : Math.min(qmax, Math.max(0, roundHalfEven(-min / scale)));
  return { scale, zero };
}

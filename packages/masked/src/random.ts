/**
 * Host-side random streams for the mask generators: Philox words from @tessera/tensor's
 * `Generator`, so a seed gives the same masks on every backend and platform.
 */
import { Generator } from "@tessera/tensor";
import { fail } from "./errors";

/** A seed (a fresh stream for this call) or a `Generator` to draw from (it advances). */
export type Seed = number | Generator;

let defaultGenerator = new Generator(0);

/** Reseeds the stream used when a call gives no `seed`. */
export function manualSeedMasked(seed: number): void {
  defaultGenerator = new Generator(seed);
}

/** Buffered uniform / integer draws from a Generator. */
export class Rng {
  private buf: Uint32Array = new Uint32Array(0);
  private at = 0;
  private readonly gen: Generator;
  constructor(op: string, seed: Seed | undefined) {
    if (seed === undefined) this.gen = defaultGenerator;
    else if (typeof seed === "number") {
      if (!Number.isSafeInteger(seed) || seed < 0) fail(op, `seed must be a non-negative safe integer or a Generator, got ${seed}`);
      this.gen = new Generator(seed);
    } else if (seed instanceof Generator) this.gen = seed;
    else fail(op, `seed must be a non-negative safe integer or a Generator, got ${String(seed)}`);
  }
  /** A raw 32-bit word. */
  word(): number {
    if (this.at >= this.buf.length) {
      this.buf = this.gen.words(256);
      this.at = 0;
    }
    return this.buf[this.at++];
  }
  /** Uniform in [0, 1) with 24 random bits (as @tessera/tensor's `uniform`). */
  uniform(): number {
    return (this.word() >>> 8) * 2 ** -24;
  }
  /** Uniform in (0, 1): never 0 or 1 (for logarithms). */
  open01(): number {
    return ((this.word() >>> 8) + 0.5) * 2 ** -24;
  }
  /** Uniform in [a, b) (Python's random.uniform). */
  range(a: number, b: number): number {
    return a + (b - a) * this.uniform();
  }
  /** Integer uniform in [0, n). */
  below(n: number): number {
    return Math.floor((this.word() / 2 ** 32) * n);
  }
  /** Integer uniform in [a, b], both inclusive (Python's random.randint). */
  randint(a: number, b: number): number {
    return a + this.below(b - a + 1);
  }
  /** Standard Gumbel noise: -log(-log(u)). */
  gumbel(): number {
    return -Math.log(-Math.log(this.open01()));
  }
  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[] | Uint8Array | Int32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}

/**
 * Host-side random draws from a `Generator` (Philox4x32-10 words, buffered): the one seeded
 * stream the packages use for choices made on the host (k-means++ seeds, dead-code restarts,
 * token sampling, mask generators), so a seed means the same numbers everywhere.
 */
import { Generator } from "./random";

export class HostRandom {
  private buf: Uint32Array = new Uint32Array(0);
  private at = 0;
  readonly generator: Generator;

  /** A fresh stream from a seed, or draws from (and advancing) an existing Generator. */
  constructor(seed: number | Generator = 0) {
    this.generator = typeof seed === "number" ? new Generator(seed) : seed;
  }

  /** A raw 32-bit word. */
  word(): number {
    if (this.at >= this.buf.length) {
      this.buf = this.generator.words(256);
      this.at = 0;
    }
    return this.buf[this.at++];
  }

  /** Uniform in [0, 1) with 24 random bits (as `uniform()` tensors). */
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

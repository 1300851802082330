/**
 * Host-side random streams for the mask generators: Philox words from @tessera/tensor's
 * `Generator`, so a seed gives the same masks on every backend and platform.
 */
import { Generator, HostRandom } from "@tessera/tensor";
import { fail } from "./errors";

/** A seed (a fresh stream for this call) or a `Generator` to draw from (it advances). */
export type Seed = number | Generator;

let defaultGenerator = new Generator(0);

/** Reseeds the stream used when a call gives no `seed`. */
export function manualSeedMasked(seed: number): void {
  defaultGenerator = new Generator(seed);
}

/** The stream a call draws from: a fresh one for a numeric seed, the given Generator, or the default. */
export function rngFor(op: string, seed: Seed | undefined): HostRandom {
  if (seed === undefined) return new HostRandom(defaultGenerator);
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed) || seed < 0) fail(op, `seed must be a non-negative safe integer or a Generator, got ${seed}`);
    return new HostRandom(seed);
  }
  if (seed instanceof Generator) return new HostRandom(seed);
  return fail(op, `seed must be a non-negative safe integer or a Generator, got ${String(seed)}`);
}

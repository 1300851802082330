/**
 * Seeded randomness for the task generators: Mulberry32 (a 32-bit state, one add and a few
 * xor-shift-multiplies per draw; Tommy Ettinger's public-domain generator), the same generator the
 * selective-copying trainer has always used. Plain JS, no tensors, so every generator here runs in
 * a browser as well as in Node.
 */

/** Mulberry32: a function returning floats in [0, 1) (32 random bits each), replayed by the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi] (both inclusive, as Python's `random.randint`). */
export function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** `n` distinct integers from [lo, hi), in the order drawn (uniform, as `np.random.choice(..., replace=False)`). */
export function distinctInts(rng: () => number, n: number, lo: number, hi: number): number[] {
  if (n > hi - lo) throw new Error(`distinctInts: cannot draw ${n} distinct values from [${lo}, ${hi})`);
  const seen = new Set<number>();
  const out: number[] = [];
  while (out.length < n) {
    const v = lo + Math.floor(rng() * (hi - lo));
    if (!seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  }
  return out;
}

/**
 * A 32-bit hash (the MurmurHash3 / SplitMix finalizer) of a seed and a stream index, so that
 * derived seeds (per split, per worker) are far apart in Mulberry32's state space.
 */
export function deriveSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((stream + 1) >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Multi-query associative recall (Arora, Eyuboglu et al. 2023, "Zoology").
 *
 * Follows HazyResearch/zoology, zoology/data/associative_recall.py `_mqar` (what `multiquery_ar`
 * calls for each split):
 * - the vocabulary is split in two: keys are drawn from [1, vocab/2), values from [vocab/2, vocab),
 *   `numKvPairs` distinct keys and distinct values per sequence;
 * - the sequence starts with the pairs `k1 v1 k2 v2 ...` (context = 2 * numKvPairs tokens);
 * - every key is queried once: key i is placed at position context + 2 * gap_i, where the gaps are
 *   drawn without replacement from [0, space), space = (seqLen - context) / 2, with the power law
 *   p(gap = g) ∝ powerA * (g + 1)^(powerA - 1) (powerA = 0.01 by default; 1 = uniform);
 * - labels are -100 everywhere except at a query position, whose label is the key's value (zoology
 *   shifts inputs and labels by one for next-token training; the net effect is this);
 * - with `randomNonQueries` (default, as zoology) every remaining 0 in the inputs is replaced by a
 *   token drawn uniformly from [0, vocab) (so noise may repeat a key; only the labelled positions
 *   are queries);
 * - zoology's asserts: seqLen even, vocab > seqLen, 4 * numKvPairs <= seqLen.
 * Different: the random numbers (Mulberry32, not numpy's), so the same distribution, not the same
 * samples.
 */
import { deriveSeed, distinctInts, seededRandom } from "./random";

export interface MqarOptions {
  count: number;
  seed: number;
  /** Default 8192 (zoology's default). */
  vocabSize?: number;
  /** Default 64. */
  seqLen?: number;
  /** Default 4. */
  numKvPairs?: number;
  /** Power-law exponent of the query gaps; default 0.01. */
  powerA?: number;
  /** Replace the 0 fillers with random tokens; default true. */
  randomNonQueries?: boolean;
}

export interface SequenceExample {
  /** Token ids, length seqLen (int32). */
  inputs: Int32Array;
  /** Target ids, same length; -100 where no loss is taken. */
  labels: Int32Array;
}

export const IGNORE_INDEX = -100;

/** Weighted sampling of `n` distinct indices (successive draws from the remaining weights, as numpy). */
function weightedDistinct(rng: () => number, weights: Float64Array, n: number): number[] {
  const w = Float64Array.from(weights);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (const v of w) total += v;
    let r = rng() * total;
    let pick = -1;
    for (let j = 0; j < w.length; j++) {
      if (w[j] === 0) continue;
      pick = j;
      r -= w[j];
      if (r < 0) break;
    }
    out.push(pick);
    w[pick] = 0;
  }
  return out;
}

export function mqar(o: MqarOptions): SequenceExample[] {
  const vocab = o.vocabSize ?? 8192;
  const L = o.seqLen ?? 64;
  const pairs = o.numKvPairs ?? 4;
  const a = o.powerA ?? 0.01;
  const randomNonQueries = o.randomNonQueries ?? true;
  if (L % 2 !== 0) throw new Error(`mqar: seqLen must be even, got ${L}`);
  if (!(vocab > L)) throw new Error(`mqar: vocabSize (${vocab}) must exceed seqLen (${L})`);
  if (pairs * 4 > L) throw new Error(`mqar: 4 * numKvPairs (${4 * pairs}) must be <= seqLen (${L})`);
  const context = 2 * pairs;
  const half = vocab >> 1;
  const space = (L - context) / 2;
  const p = new Float64Array(space);
  for (let g = 0; g < space; g++) p[g] = a * (g + 1) ** (a - 1);
  const rng = seededRandom(deriveSeed(o.seed, 0x3a));
  const out: SequenceExample[] = [];
  for (let e = 0; e < o.count; e++) {
    const keys = distinctInts(rng, pairs, 1, half);
    const values = distinctInts(rng, pairs, half, vocab);
    const gaps = weightedDistinct(rng, p, pairs);
    const inputs = new Int32Array(L);
    const labels = new Int32Array(L).fill(IGNORE_INDEX);
    for (let i = 0; i < pairs; i++) {
      inputs[2 * i] = keys[i];
      inputs[2 * i + 1] = values[i];
      const q = context + 2 * gaps[i];
      inputs[q] = keys[i];
      labels[q] = values[i];
    }
    if (randomNonQueries) for (let j = 0; j < L; j++) if (inputs[j] === 0) inputs[j] = Math.floor(rng() * vocab);
    out.push({ inputs, labels });
  }
  return out;
}

/**
 * Choosing the next token from a row of logits, in Hugging Face's order of logits processors:
 * temperature, then top-k, then top-p (nucleus, Holtzman et al. 2020), then a draw from the
 * softmax. Greedy decoding (temperature 0 or undefined) takes the first maximum, as argmax.
 * Sampling is reproducible: a seeded HostRandom (@tessera/tensor: Philox words) drives the draws.
 */
import { HostRandom } from "@tessera/tensor";
import { fail } from "../errors";

export interface SamplingOptions {
  /** Softmax temperature; 0 or undefined means greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 / undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 / undefined: all). */
  topP?: number;
  /** Seed of the draws (default 0). */
  seed?: number;
}

export function checkSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0)) fail("generate", `temperature must be >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) fail("generate", `topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) fail("generate", `topP must lie in (0, 1], got ${o.topP}`);
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** The next token for one row of logits [V]. */
export function sampleToken(row: ArrayLike<number>, o: SamplingOptions, rng: HostRandom): number {
  if (!o.temperature) return argmax(row);
  const V = row.length;
  // Candidates sorted by logit, descending (stable: lower index first on ties).
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  let n = o.topK && o.topK < V ? o.topK : V;
  const scaled = order.slice(0, n).map((i) => row[i] / o.temperature!);
  const m = scaled[0];
  const w = scaled.map((s) => Math.exp(s - m));
  let total = w.reduce((a, b) => a + b, 0);
  if (o.topP !== undefined && o.topP < 1) {
    // Keep tokens while the probability mass before them is below p (at least one).
    let mass = 0;
    let keep = 0;
    while (keep < n && (keep === 0 || mass < o.topP * total)) mass += w[keep++];
    n = keep;
    total = mass;
  }
  let u = rng.uniform() * total;
  for (let i = 0; i < n; i++) {
    u -= w[i];
    if (u < 0) return order[i];
  }
  return order[n - 1];
}

/**
 * Induction heads (Olsson et al. 2022), in the form of the H3 / Hyena synthetic (HazyResearch
 * safari, src/dataloaders/synthetics.py `generate_induction_head`, induction_len = 1, one trigger):
 * `seqLen` tokens drawn uniformly from the ordinary tokens [0, vocabSize - 1); the special token
 * (vocabSize - 1) overwrites a random position p in [0, seqLen - 2), so the token after it, t, is an
 * ordinary token; the special token is appended at the end, where the model must predict t.
 * inputs = those seqLen + 1 tokens; labels = -100 except the last position, labelled t (as
 * safari's test split; its train split trains on every next token, which a caller can rebuild from
 * the inputs).
 */
import type { SequenceExample } from "./mqar";
import { IGNORE_INDEX } from "./mqar";
import { deriveSeed, seededRandom } from "./random";

export interface InductionOptions {
  count: number;
  seed: number;
  /** Random tokens before the final trigger; default 64. */
  seqLen?: number;
  /** Token ids 0 .. vocabSize - 1, the last one being the trigger; default 16. */
  vocabSize?: number;
}

export function inductionHeads(o: InductionOptions): SequenceExample[] {
  const L = o.seqLen ?? 64;
  const V = o.vocabSize ?? 16;
  if (V < 3) throw new Error(`inductionHeads: vocabSize must be at least 3, got ${V}`);
  if (L < 3) throw new Error(`inductionHeads: seqLen must be at least 3, got ${L}`);
  const trigger = V - 1;
  const rng = seededRandom(deriveSeed(o.seed, 0x1d));
  return Array.from({ length: o.count }, () => {
    const inputs = new Int32Array(L + 1);
    for (let i = 0; i < L; i++) inputs[i] = Math.floor(rng() * (V - 1));
    const p = Math.floor(rng() * (L - 2));
    inputs[p] = trigger;
    inputs[L] = trigger;
    const labels = new Int32Array(L + 1).fill(IGNORE_INDEX);
    labels[L] = inputs[p + 1];
    return { inputs, labels };
  });
}

/**
 * The causal language-modelling loss, as Hugging Face's ForCausalLMLoss: position t predicts
 * token t + 1, so logits[:, :-1] are scored against labels[:, 1:]; labels equal to ignoreIndex
 * (-100) are left out of the mean.
 */
import { crossEntropy, narrow, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";

/** logits [B, T, V], labels [B, T] (int; usually the input ids) -> mean loss (scalar). */
export function lmLoss(logits: Tensor, labels: Tensor, opts: { ignoreIndex?: number } = {}): Tensor {
  if (logits.rank !== 3 || labels.rank !== 2 || labels.shape[0] !== logits.shape[0] || labels.shape[1] !== logits.shape[1]) {
    fail("lmLoss", `logits [${logits.shape}] must be [B, T, V] and labels [${labels.shape}] [B, T]`);
  }
  const T = logits.shape[1];
  if (T < 2) fail("lmLoss", `needs at least 2 positions, got T = ${T}`);
  return crossEntropy(narrow(logits, 1, 0, T - 1), narrow(labels, 1, 1, T - 1), { ignoreIndex: opts.ignoreIndex ?? -100 });
}

/**
 * One optimisation step of a causal LM: loss and gradients through the tape, optional global
 * norm clipping, the scheduled learning rate, then AdamW. Every temporary is freed, so memory
 * stays flat over a training run (a test checks it).
 */
import { AdamW, dispose, gradients, tidy, type AdamWOptions, type Tensor } from "@tessera/tensor";
import type { CausalLM } from "../arch/causal-lm";
import { clipGradNorm } from "./clip";
import { lmLoss } from "./loss";

export interface TrainerOptions extends AdamWOptions {
  /** The learning rate at each step (overrides lr). */
  schedule?: (step: number) => number;
  /** Clip the global gradient norm (default: no clipping). */
  maxGradNorm?: number;
}

export class LMTrainer {
  readonly optimizer: AdamW;
  step = 0;
  constructor(
    readonly model: CausalLM,
    readonly opts: TrainerOptions = {},
  ) {
    this.optimizer = new AdamW(model.namedParameters(), opts);
    model.train();
  }

  /** One step on ids [B, T] (targets are the ids shifted by one); returns the loss before the update. */
  async trainStep(ids: Tensor, labels: Tensor = ids): Promise<{ loss: number; gradNorm: number | null; lr: number }> {
    const { value, grads } = tidy(() => gradients(() => lmLoss(this.model.forward(ids).logits, labels), this.model.namedParameters()));
    return optimizerStep(this.optimizer, this.opts, this.step++, value, grads);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/**
 * The update after a backward pass, shared by the trainers: optional global norm clipping, the
 * scheduled learning rate, AdamW, then the gradients and the loss tensor freed. Returns the loss
 * before the update, the norm before clipping (null without clipping) and the lr used.
 */
export async function optimizerStep(
  optimizer: AdamW,
  opts: TrainerOptions,
  step: number,
  value: Tensor,
  grads: Record<string, Tensor>,
): Promise<{ loss: number; gradNorm: number | null; lr: number }> {
  let g = grads;
  let gradNorm: number | null = null;
  if (opts.maxGradNorm) {
    const c = await clipGradNorm(grads, opts.maxGradNorm);
    gradNorm = c.totalNorm;
    if (c.grads !== grads) dispose(grads);
    g = c.grads;
  }
  if (opts.schedule) optimizer.lr = opts.schedule(step);
  optimizer.step(g);
  dispose(g);
  const loss = await value.item();
  value.dispose();
  return { loss, gradNorm, lr: optimizer.lr };
}

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
    let g = grads;
    let gradNorm: number | null = null;
    if (this.opts.maxGradNorm) {
      const c = await clipGradNorm(grads, this.opts.maxGradNorm);
      gradNorm = c.totalNorm;
      if (c.grads !== grads) dispose(grads);
      g = c.grads;
    }
    if (this.opts.schedule) this.optimizer.lr = this.opts.schedule(this.step);
    this.optimizer.step(g);
    dispose(g);
    const loss = await value.item();
    value.dispose();
    this.step++;
    return { loss, gradNorm, lr: this.optimizer.lr };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/**
 * One ELECTRA pre-training step (Clark et al. 2020): the replaced-token-detection objective of
 * `Electra.loss` (generator MLM + lambda x discriminator BCE), gradients for both halves and the
 * shared embeddings in one backward pass, optional global norm clipping, then AdamW. Every
 * temporary is freed, so memory stays flat over a run.
 */
import { AdamW, clone, dispose, gradients, keep, stopGradient, tidy, type Tensor } from "@tessera/tensor";
import type { Electra, ElectraStepOptions } from "../arch/electra";
import { optimizerStep, type TrainerOptions } from "./trainer";

export interface ElectraStepResult {
  loss: number;
  generatorLoss: number;
  discriminatorLoss: number;
  gradNorm: number | null;
  lr: number;
}

export class ElectraTrainer {
  readonly optimizer: AdamW;
  step = 0;
  constructor(
    readonly model: Electra,
    readonly opts: TrainerOptions = {},
  ) {
    this.optimizer = new AdamW(model.namedParameters(), opts);
    model.train();
  }

  /** One step on clean ids [B, T]; `o.seed` drives the masking and the generator's samples. */
  async trainStep(ids: Tensor, o: ElectraStepOptions): Promise<ElectraStepResult> {
    let parts: Tensor[] = [];
    const { value, grads } = tidy(() =>
      gradients(() => {
        const r = this.model.loss(ids, o);
        // Copies that outlive the backward pass (which frees f's intermediates).
        parts = [r.generatorLoss, r.discriminatorLoss].map((t) => keep(clone(stopGradient(t))));
        return r.loss;
      }, this.model.namedParameters()),
    );
    const [generatorLoss, discriminatorLoss] = [await parts[0].item(), await parts[1].item()];
    dispose(parts);
    return { ...(await optimizerStep(this.optimizer, this.opts, this.step++, value, grads)), generatorLoss, discriminatorLoss };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

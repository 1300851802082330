/**
 * The one training loop of the bench's accuracy code (tasks runner and experiments): AdamW
 * (weight decay 0.01), linear warmup over the first 10% of steps then cosine to lr / 10, global
 * gradient-norm clipping at 1; the loss's tensors freed every step.
 */
import * as T from "@tessera/tensor";
import { clipGradNorm, lrSchedule } from "@tessera/models";

export interface TrainOptions {
  steps: number;
  lr: number;
  /** Called with (step, loss) after each step; `stop` = true ends training early. */
  onStep?: (step: number, loss: number) => boolean | void;
}

/** AdamW (weight decay 0.01), warmup over the first 10% of steps then cosine to lr / 10, global grad-norm clip 1. Returns the losses. */
export async function trainLoop(params: Record<string, T.Tensor>, lossOf: (step: number) => T.Tensor, o: TrainOptions): Promise<number[]> {
  const opt = new T.AdamW(params, { lr: o.lr, weightDecay: 0.01 });
  const schedule = lrSchedule({ peak: o.lr, warmup: Math.max(1, Math.floor(o.steps / 10)), total: Math.max(o.steps, 2), minLr: o.lr / 10 });
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const { value, grads } = T.tidy(() => T.gradients(() => lossOf(s), params));
    const c = await clipGradNorm(grads, 1);
    if (c.grads !== grads) T.dispose(Object.values(grads));
    opt.lr = schedule(s);
    opt.step(c.grads);
    T.dispose(Object.values(c.grads));
    const loss = value.itemSync();
    value.dispose();
    losses.push(loss);
    if (o.onStep?.(s + 1, loss) === true) break;
  }
  opt.dispose();
  return losses;
}

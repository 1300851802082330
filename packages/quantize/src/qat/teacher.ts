/**
 * Teacher Intervention (Kim et al. 2023, "Teacher Intervention: Improving Convergence of
 * Quantization Aware Training for Ultra-Low Precision Transformers"): in QAT of a ternary
 * student, the teacher's intact signal replaces the student's propagated one at every layer, so
 * each student layer learns to map the teacher's input to the teacher's output without the
 * quantization error accumulated below it; the intervention is then withdrawn gradually (TI-G)
 * and training finishes as plain layer-wise distillation.
 *   hT_0 = hS_0 = x;  hT_l = teacher_l(hT_{l-1})
 *   input of student layer l = lambda hT_{l-1} + (1 - lambda) hS_{l-1};  hS_l = student_l(that)
 *   loss = mean over layers of MSE(hS_l, hT_l)
 * lambda = 1 is full intervention (TI-O on layer outputs), lambda = 0 plain KD.
 */
import { add, div, mseLoss, mul, stopGradient, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";

export interface InterventionLayer {
  teacher: (x: Tensor) => Tensor;
  student: (x: Tensor) => Tensor;
}

export function interventionLoss(layers: readonly InterventionLayer[], x: Tensor, lambda: number): Tensor {
  if (!(lambda >= 0 && lambda <= 1)) fail("interventionLoss", `lambda must lie in [0, 1], got ${lambda}`);
  if (!layers.length) fail("interventionLoss", "needs at least one layer");
  let hT = x;
  let hS = x;
  const losses: Tensor[] = [];
  for (const l of layers) {
    const tIn = stopGradient(hT);
    const sIn = lambda === 1 ? tIn : lambda === 0 ? hS : add(mul(tIn, lambda), mul(hS, 1 - lambda));
    hT = stopGradient(l.teacher(tIn));
    hS = l.student(sIn);
    losses.push(mseLoss(hS, hT));
  }
  return div(
    losses.reduce((a, b) => add(a, b)),
    losses.length,
  );
}

/** TI-G's schedule: full intervention for the first `hold` of the steps, then linearly to 0 by `release`. */
export function interventionSchedule(step: number, total: number, hold = 0.3, release = 0.7): number {
  const t = step / total;
  if (t <= hold) return 1;
  if (t >= release) return 0;
  return 1 - (t - hold) / (release - hold);
}

/**
 * Learning-rate schedules as functions of the step (0-based), as Hugging Face's
 * get_*_schedule_with_warmup: a linear warmup from 0 to the peak over `warmup` steps, then
 *  - cosine: peak -> minLr along half a cosine by step `total` (Loshchilov & Hutter 2017);
 *  - linear: peak -> minLr linearly by step `total`;
 *  - constant: the peak.
 */
import { fail } from "../errors";

export interface ScheduleOptions {
  peak: number;
  warmup?: number;
  total: number;
  minLr?: number;
  kind?: "cosine" | "linear" | "constant";
}

export function lrSchedule(o: ScheduleOptions): (step: number) => number {
  const warmup = o.warmup ?? 0;
  const minLr = o.minLr ?? 0;
  if (!(o.peak > 0) || !(o.total > warmup) || warmup < 0 || minLr < 0 || minLr > o.peak) {
    fail("lrSchedule", `needs peak > 0, 0 <= warmup < total and 0 <= minLr <= peak; got peak ${o.peak}, warmup ${warmup}, total ${o.total}, minLr ${minLr}`);
  }
  const kind = o.kind ?? "cosine";
  return (step: number) => {
    if (step < warmup) return (o.peak * (step + 1)) / warmup;
    if (kind === "constant") return o.peak;
    const progress = Math.min(1, (step - warmup) / (o.total - warmup));
    const shape = kind === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
    return minLr + (o.peak - minLr) * shape;
  };
}

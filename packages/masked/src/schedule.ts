/** MaskGIT mask-ratio schedules gamma(r) (Chang et al. 2022, §3.2 and Table 6). */
import { fail } from "./errors";

export type MaskgitScheduleKind = "cosine" | "linear" | "square" | "cubic" | "sqrt" | "log" | "exp";

export const MASKGIT_SCHEDULES: readonly MaskgitScheduleKind[] = ["cosine", "linear", "square", "cubic", "sqrt", "log", "exp"];

export interface ScheduleOptions {
  /** N, the number of tokens that can be masked: needed by "log" and "exp" (at least 2). */
  totalTokens?: number;
}

/**
 * gamma(r) for r in [0, 1], the share of tokens still masked, from google-research/maskgit
 * libml/mask_schedule.py: cosine cos(pi r / 2); linear ("uniform") 1 - r; square / cubic / sqrt
 * ("pow2", "pow3", "pow0.5") 1 - r^2, 1 - r^3, 1 - sqrt(r); log -log2(r) / log2(N); exp
 * 1 - 2^(-log2(N) (1 - r)) = 1 - N^(r - 1). Values are clamped to [0, 1] (log at r = 0 is 1);
 * maskgitDecode additionally clips to [1e-6, 1] as the reference does.
 */
export function maskgitSchedule(kind: MaskgitScheduleKind, opts: ScheduleOptions = {}): (r: number) => number {
  const op = "maskgitSchedule";
  if (!MASKGIT_SCHEDULES.includes(kind)) fail(op, `kind must be one of ${MASKGIT_SCHEDULES.join(", ")}, got ${String(kind)}`);
  let n = 0;
  if (kind === "log" || kind === "exp") {
    n = opts.totalTokens ?? NaN;
    if (!Number.isInteger(n) || n < 2) fail(op, `"${kind}" needs totalTokens, an integer of at least 2, got ${String(opts.totalTokens)}`);
  }
  const f: (r: number) => number = {
    cosine: (r: number) => (r >= 1 ? 0 : Math.cos((Math.PI / 2) * r)),
    linear: (r: number) => 1 - r,
    square: (r: number) => 1 - r ** 2,
    cubic: (r: number) => 1 - r ** 3,
    sqrt: (r: number) => 1 - Math.sqrt(r),
    log: (r: number) => -Math.log2(r) / Math.log2(n),
    exp: (r: number) => 1 - 2 ** (-Math.log2(n) * (1 - r)),
  }[kind];
  return (r: number) => {
    if (typeof r !== "number" || !(r >= 0 && r <= 1)) fail(op, `r must lie in [0, 1], got ${String(r)}`);
    return Math.min(1, Math.max(0, f(r)));
  };
}

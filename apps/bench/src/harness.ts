/**
 * Timing: warm-up runs, then timed runs until both a minimum count and a time budget are met;
 * the median is the figure reported (with min and max), since machines are noisy.
 */
export interface Row {
  suite: string;
  case: string;
  impl: string;
  backend: string;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  runs: number;
  gflops?: number;
  gbps?: number;
  /** Peak live tensor bytes during one run (Tessera rows; from memory().peakBytes). */
  peak_bytes?: number;
  note?: string;
  /** The tasks suite (accuracy runs; median_ms = min_ms = max_ms = the run's wall time, runs = 1). */
  task?: string;
  mixer?: string;
  /** Self-pretraining before fine-tuning: "none" or "causal" (next-token prediction on the training inputs). */
  pretrain?: string;
  /** Test accuracy (per example, or per labelled position for sequence tasks). */
  accuracy?: number;
  /** What the test accuracy is over: examples (classification) or labelled positions (sequence tasks). */
  test_n?: number;
  val_accuracy?: number;
  /** The chance level the accuracy is compared with (see the tasks suite). */
  chance?: number;
  /** Fine-tuning steps. */
  steps?: number;
  pretrain_steps?: number;
  /** Training tokens (pretraining + fine-tuning) per second. */
  tokens_per_s?: number;
  /** Mean training loss over the first / last 10% of the fine-tuning steps. */
  loss_first?: number;
  loss_last?: number;
  params?: number;
  /** Validation accuracy during fine-tuning (step 0: before it, after self-pretraining where there is one). */
  curve?: { step: number; accuracy: number }[];
}

export interface MeasureOptions {
  warmup: number;
  /**
   * After the `warmup` runs, keep warming up until this much time was spent on warm-up (at most
   * 200 runs): code that runs many times in a row (a generation's decode steps) is timed in its
   * steady state, after V8 has finished compiling it; the compiles run on background threads
   * that take the cores from the kernels' worker threads for a scheduler tick (~4 ms) at a time.
   */
  warmupMs?: number;
  minRuns: number;
  maxRuns: number;
  /** Stop adding runs once this much time was spent (after minRuns). */
  budgetMs: number;
  /** An implementation still running after 4 x budgetMs stops after this many timed runs (default 2). */
  slowRuns?: number;
}

/** The `--full` timing (what the whole-grid run always used). */
export const DEFAULT_MEASURE: MeasureOptions = { warmup: 1, minRuns: 5, maxRuns: 30, budgetMs: 3000 };

/** Size grids: `quick` small shapes, `default` representative sizes in a few minutes, `full` everything. */
export type Tier = "quick" | "default" | "full";
export const TIERS: readonly Tier[] = ["quick", "default", "full"];

/** Timing per tier: the default run stops repeating an implementation once it has 3 runs and
 * ~0.6 s were spent on it (at most 15 runs; a median of at least 3 runs, however slow). */
export const TIER_MEASURE: Record<Tier, MeasureOptions> = {
  quick: { warmup: 1, minRuns: 2, maxRuns: 3, budgetMs: 50 },
  default: { warmup: 1, minRuns: 3, maxRuns: 15, budgetMs: 600, slowRuns: 3 },
  full: DEFAULT_MEASURE,
};

export interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export async function measure(fn: () => unknown | Promise<unknown>, opts: MeasureOptions = DEFAULT_MEASURE): Promise<Timing> {
  const warmStart = performance.now();
  for (let i = 0; i < opts.warmup || (i < 200 && performance.now() - warmStart < (opts.warmupMs ?? 0)); i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < opts.maxRuns && (times.length < opts.minRuns || performance.now() - start < opts.budgetMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    // One very slow implementation (plain JS at n=1024) should not hold the whole run.
    if (times.length >= (opts.slowRuns ?? 2) && performance.now() - start > 4 * opts.budgetMs) break;
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { median, min: times[0], max: times[times.length - 1], runs: times.length };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

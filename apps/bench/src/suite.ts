import type { MeasureOptions, Row, Tier } from "./harness";

export interface SuiteContext {
  measure: MeasureOptions;
  /** Which size grid: `quick` (small shapes, smoke tests), `default` (representative sizes, a
   * few minutes for every suite), `full` (the largest shapes, long). */
  tier: Tier;
  /** Same as `tier === "quick"`. */
  quick: boolean;
  /** Tessera backend to measure. */
  backend: string;
  log: (line: string) => void;
  /** Called by `runCase` as each row is finished (the CLI prints a progress line). */
  onRow?: (row: Row) => void;
  /** Which implementations `runCase` runs (default: all); the web page leaves out onnxruntime-node, which needs Node. */
  keepImpl?: (impl: string) => boolean;
}

/** One row a suite will produce, known before it runs (for `[i/N]` progress). */
export interface PlannedRow {
  case: string;
  impl: string;
}

export interface Suite {
  name: string;
  description: string;
  /** The rows `run` will produce for this context's tier and backend, in order. */
  plan(ctx: Pick<SuiteContext, "tier" | "backend">): PlannedRow[];
  run(ctx: SuiteContext): Promise<Row[]>;
  /** Lines printed after the table (e.g. scaling exponents), from this run's rows. */
  summarize?(rows: Row[]): string;
  /** The suite's own table instead of the timing table (the tasks suite: accuracy per mixer). */
  table?(rows: Row[]): string;
}

/** One implementation of a benchmark case: set up once, then `run` is timed. */
export interface Impl {
  impl: string;
  backend: string;
  setup(): Promise<{ run: () => unknown | Promise<unknown>; result: () => Promise<Float32Array>; dispose: () => void | Promise<void>; peak?: () => Promise<number> }>;
}

/** Largest absolute difference, for the side-by-side sanity check of every anchor. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

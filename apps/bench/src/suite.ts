import type { MeasureOptions, Row } from "./harness";

export interface SuiteContext {
  measure: MeasureOptions;
  /** Small shapes, for smoke tests and quick looks. */
  quick: boolean;
  /** Tessera backend to measure. */
  backend: string;
  log: (line: string) => void;
}

export interface Suite {
  name: string;
  description: string;
  run(ctx: SuiteContext): Promise<Row[]>;
  /** Lines printed after the table (e.g. scaling exponents), from this run's rows. */
  summarize?(rows: Row[]): string;
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

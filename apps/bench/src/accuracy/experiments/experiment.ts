/**
 * An `accuracy` experiment of the bench (issue 15, §4 "Show what it buys"): a fixed-seed training
 * comparison run by name (`npm run bench -- accuracy <name>`), never in CI's time. `quick` shrinks
 * it to a seconds-long smoke run of the same machinery (the test suite's).
 */
export interface ExperimentContext {
  quick: boolean;
  /** Replaces the configuration's seed (weights, batch order, masks; never the data splits). */
  seed?: number;
  log: (line: string) => void;
}

/** One compared condition's figures (a table row; also written as JSON). */
export interface ExperimentRow {
  experiment: string;
  condition: string;
  /** Test accuracy of the downstream probe. */
  accuracy: number;
  testCount: number;
  [key: string]: string | number | boolean | undefined;
}

export interface ExperimentReport {
  rows: ExperimentRow[];
  /** The markdown table and the notes printed at the end. */
  table: string;
}

export interface AccuracyExperiment {
  name: string;
  description: string;
  run(ctx: ExperimentContext): Promise<ExperimentReport>;
}

/** A binomial standard error of an accuracy p over n test items: sqrt(p (1 - p) / n). */
export const stdError = (p: number, n: number): number => Math.sqrt((p * (1 - p)) / n);

export const pct = (v: number): string => (100 * v).toFixed(1);

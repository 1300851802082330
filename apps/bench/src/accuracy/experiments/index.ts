import type { AccuracyExperiment } from "./experiment";
import { electraExperiment } from "./electra-vs-mlm";
import { maeExperiment } from "./mae-probe";
import { maskStrategiesExperiment } from "./mask-strategies";
import { maskgitExperiment } from "./maskgit";

/** The `accuracy` experiments, by name (`npm run bench -- accuracy <name>`). */
export const ACCURACY_EXPERIMENTS: AccuracyExperiment[] = [maskStrategiesExperiment, electraExperiment, maeExperiment, maskgitExperiment];

export function experimentByName(name: string): AccuracyExperiment {
  const e = ACCURACY_EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new Error(`unknown accuracy experiment '${name}' (experiments: ${ACCURACY_EXPERIMENTS.map((x) => x.name).join(", ")})`);
  return e;
}

export type { AccuracyExperiment, ExperimentContext, ExperimentReport, ExperimentRow } from "./experiment";

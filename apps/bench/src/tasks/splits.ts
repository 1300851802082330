/**
 * Fixed train / validation / test splits: each split is the generator run with its own seed,
 * `splitSeed(seed, split)` = deriveSeed(seed, 1 | 2 | 3) (a 32-bit hash of the base seed and the
 * split's index), so a split never changes when another split's size does, and the default base
 * seed 0 gives the bench's canonical data. Splits are independent draws: for the long tasks
 * (ListOps, Pathfinder, MQAR at vocab 8192) a repeat across splits is astronomically unlikely;
 * for tiny settings (short induction sequences, small vocabularies) repeats can happen, as in
 * zoology, whose test set is simply drawn with seed + 10. Fashion-MNIST has its own fixed
 * train / test files.
 */
import { deriveSeed } from "./random";

export type Split = "train" | "validation" | "test";
export const SPLITS: readonly Split[] = ["train", "validation", "test"];

export function splitSeed(seed: number, split: Split): number {
  return deriveSeed(seed, 1 + SPLITS.indexOf(split));
}

/**
 * Runs `generate(count, seed)` once per split with that split's seed:
 * `taskSplits((count, seed) => listops({ count, seed }), { train: 2000, validation: 200, test: 200 })`.
 */
export function taskSplits<T>(generate: (count: number, seed: number) => T[], counts: Record<Split, number>, seed = 0): Record<Split, T[]> {
  return {
    train: generate(counts.train, splitSeed(seed, "train")),
    validation: generate(counts.validation, splitSeed(seed, "validation")),
    test: generate(counts.test, splitSeed(seed, "test")),
  };
}

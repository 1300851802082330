/**
 * Selective copying (Gu & Dao 2023, "Mamba", section 4.1.1): `tokens` data tokens at random
 * distinct positions among `length` noise positions, then `tokens` marker tokens at which the data
 * tokens must be output in order. Ids: 0 = noise, 1 .. vocab = data, vocab + 1 = marker. The
 * generator the bench's selective-copying trainer uses (apps/bench/src/accuracy/selective-copying.ts
 * wraps `selectiveCopyingBatch` into tensors; the draws are unchanged).
 */
import type { SequenceExample } from "./mqar";
import { IGNORE_INDEX } from "./mqar";
import { seededRandom } from "./random";

export interface CopyTask {
  /** Positions holding noise or data before the markers. */
  length: number;
  /** Data tokens to copy. */
  tokens: number;
  /** Distinct data values (ids 1 .. vocab; 0 = noise, vocab + 1 = marker). */
  vocab: number;
}

/** A batch as flat row-major arrays: ids and targets [batch, length + tokens] (-100 where no loss). */
export function selectiveCopyingBatch(task: CopyTask, batch: number, rng: () => number): { ids: Int32Array; targets: Int32Array; shape: [number, number] } {
  const L = task.length + task.tokens;
  const ids = new Int32Array(batch * L);
  const targets = new Int32Array(batch * L).fill(IGNORE_INDEX);
  const marker = task.vocab + 1;
  for (let b = 0; b < batch; b++) {
    // choose `tokens` distinct positions in [0, length), in order
    const pos = new Set<number>();
    while (pos.size < task.tokens) pos.add(Math.floor(rng() * task.length));
    const sorted = [...pos].sort((x, y) => x - y);
    sorted.forEach((p, i) => {
      const v = 1 + Math.floor(rng() * task.vocab);
      ids[b * L + p] = v;
      ids[b * L + task.length + i] = marker;
      targets[b * L + task.length + i] = v;
    });
  }
  return { ids, targets, shape: [batch, L] };
}

export interface SelectiveCopyingOptions extends Partial<CopyTask> {
  count: number;
  seed: number;
}

/** `count` sequences (defaults: length 64, tokens 8, vocab 8, the trainer's); rows of `selectiveCopyingBatch(task, count, seededRandom(seed))`. */
export function selectiveCopying(o: SelectiveCopyingOptions): SequenceExample[] {
  const task: CopyTask = { length: o.length ?? 64, tokens: o.tokens ?? 8, vocab: o.vocab ?? 8 };
  if (task.tokens > task.length) throw new Error(`selectiveCopying: ${task.tokens} tokens do not fit in ${task.length} positions`);
  const { ids, targets, shape } = selectiveCopyingBatch(task, o.count, seededRandom(o.seed));
  const L = shape[1];
  return Array.from({ length: o.count }, (_, b) => ({ inputs: ids.slice(b * L, (b + 1) * L), labels: targets.slice(b * L, (b + 1) * L) }));
}

/**
 * The six tasks of the runner as token sequences, at two data sizes (`tiny`: the tests; `small`:
 * the default and --full grids), from the task generators (src/tasks/) with the fixed splits of
 * `taskSplits` (base seed 0; Fashion-MNIST has its own vendored train / test files: validation =
 * every 10th training image).
 *   classify: ids [T] (0 = padding where a task pads), label = class
 *   sequence: ids [T], labels [T] (-100 where no loss), scored per labelled position
 */
import { fashionMnist } from "../tasks/node";
import { inductionHeads, listops, listopsTokenize, LISTOPS_VOCAB_SIZE, mqar, pathfinder, selectiveCopying, taskSplits, type SequenceExample } from "../tasks/index";

export type TaskKind = "classify" | "sequence";
/** Data sizes: `tiny` (the test suite's smoke grid, `--quick`), `small` (the default and `--full` grids). */
export type DataSize = "tiny" | "small";

export interface Example {
  ids: Int32Array;
  /** classify: the class. */
  label?: number;
  /** sequence: per-position targets (-100 = none). */
  labels?: Int32Array;
  /** Tokens before the padding (classify; = ids.length when unpadded). */
  length: number;
}

export interface TaskData {
  name: string;
  kind: TaskKind;
  vocab: number;
  /** Token id that is padding (left out of pooling and of self-pretraining), if any. */
  pad: number | null;
  classes: number;
  seqLen: number;
  train: Example[];
  validation: Example[];
  test: Example[];
  /** The accuracy of the best guess that ignores what the task is about (see `chanceNote`). */
  chance: number;
  chanceNote: string;
  /** The size, for the table and the rows' `case`. */
  size: string;
}

export interface TaskSpec {
  name: string;
  description: string;
  /** The size at each tier, in words (also in the README). */
  sizes: Record<DataSize, string>;
  load(size: DataSize): TaskData;
}

const cached = new Map<string, TaskData>();

function majority(xs: Example[], classes: number): number {
  const c = new Array(classes).fill(0);
  for (const x of xs) c[x.label!]++;
  return Math.max(...c) / xs.length;
}

const seqExample = (e: SequenceExample): Example => ({ ids: e.inputs, labels: e.labels, length: e.inputs.length });

/** 2 x 2 average pooling of a square image (28 x 28 -> 14 x 14). */
function halve(pixels: Uint8Array, side: number): Uint8Array {
  const h = side >> 1;
  const out = new Uint8Array(h * h);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < h; c++) {
      const i = 2 * r * side + 2 * c;
      out[r * h + c] = Math.round((pixels[i] + pixels[i + 1] + pixels[i + side] + pixels[i + side + 1]) / 4);
    }
  return out;
}

interface Counts {
  train: number;
  validation: number;
  test: number;
}
const COUNTS: Record<DataSize, Counts> = {
  tiny: { train: 64, validation: 16, test: 32 },
  small: { train: 2000, validation: 100, test: 500 },
};

const LISTOPS_LEN: Record<DataSize, [number, number]> = { tiny: [10, 32], small: [20, 100] };
const PATHFINDER: Record<DataSize, { size: number; contourLength: number }> = { tiny: { size: 16, contourLength: 4 }, small: { size: 16, contourLength: 4 } };
const MQAR: Record<DataSize, { vocabSize: number; seqLen: number; numKvPairs: number }> = {
  tiny: { vocabSize: 128, seqLen: 32, numKvPairs: 4 },
  small: { vocabSize: 256, seqLen: 64, numKvPairs: 4 },
};
const INDUCTION: Record<DataSize, { seqLen: number; vocabSize: number }> = { tiny: { seqLen: 16, vocabSize: 16 }, small: { seqLen: 32, vocabSize: 16 } };
const COPY: Record<DataSize, { length: number; tokens: number; vocab: number }> = { tiny: { length: 16, tokens: 4, vocab: 8 }, small: { length: 32, tokens: 4, vocab: 8 } };
/** Fashion-MNIST 2 x 2 average pooled: 14 x 14 = 196 tokens (784 is the unpooled image). */
const IMAGE_SIDE: Record<DataSize, number> = { tiny: 14, small: 14 };

function memo(key: string, f: () => TaskData): TaskData {
  let d = cached.get(key);
  if (!d) cached.set(key, (d = f()));
  return d;
}

export const TASKS: TaskSpec[] = [
  {
    name: "listops",
    description: "ListOps (LRA): nested MIN/MAX/MED/SM over digits, 10 classes; shorter expressions than LRA's 500-2000 tokens",
    sizes: { tiny: "10 < tokens < 32", small: "20 < tokens < 100 (padded to 99)" },
    load: (tier: DataSize) =>
      memo(`listops ${tier}`, () => {
        const [minLength, maxLength] = LISTOPS_LEN[tier];
        const seqLen = maxLength - 1;
        const s = taskSplits((count, seed) => listops({ count, seed, minLength, maxLength }), COUNTS[tier]);
        const conv = (xs: { text: string; label: number }[]): Example[] =>
          xs.map((x) => {
            const ids = listopsTokenize(x.text, seqLen);
            return { ids, label: x.label, length: x.text.split(" ").length };
          });
        const test = conv(s.test);
        return {
          name: "listops",
          kind: "classify",
          vocab: LISTOPS_VOCAB_SIZE,
          pad: 0,
          classes: 10,
          seqLen,
          train: conv(s.train),
          validation: conv(s.validation),
          test,
          chance: majority(test, 10),
          chanceNote: "majority class of the test split",
          size: `len ${minLength + 1}-${seqLen}`,
        };
      }),
  },
  {
    name: "pathfinder",
    description: "Pathfinder (LRA): are the two markers joined by one dashed curve? pixels as tokens, 2 classes",
    sizes: { tiny: "16 x 16 (256 px), 4 dashes, 64 train", small: "16 x 16 (256 px), 4 dashes (LRA: 32 x 32, 8-14 dashes)" },
    load: (tier: DataSize) =>
      memo(`pathfinder ${tier}`, () => {
        const o = PATHFINDER[tier];
        const s = taskSplits((count, seed) => pathfinder({ count, seed, ...o }), COUNTS[tier]);
        const conv = (xs: { pixels: Uint8Array; label: number }[]): Example[] => xs.map((x) => ({ ids: Int32Array.from(x.pixels), label: x.label, length: x.pixels.length }));
        const test = conv(s.test);
        return {
          name: "pathfinder",
          kind: "classify",
          vocab: 256,
          pad: null,
          classes: 2,
          seqLen: o.size * o.size,
          train: conv(s.train),
          validation: conv(s.validation),
          test,
          chance: majority(test, 2),
          chanceNote: "majority class of the test split",
          size: `${o.size}x${o.size}`,
        };
      }),
  },
  {
    name: "image",
    description: "sequential Fashion-MNIST (vendored subset: 2000 train / 500 test), grey levels as tokens, 10 classes",
    sizes: {
      tiny: "14 x 14 (2 x 2 average pooled, 196 tokens), 64 images",
      small: "14 x 14 (196 tokens), 1800 train / 200 validation / 500 test (validation: every 10th training image)",
    },
    load: (tier: DataSize) =>
      memo(`image ${tier}`, () => {
        const side = IMAGE_SIDE[tier];
        const conv = (xs: { pixels: Uint8Array; label: number }[]): Example[] =>
          xs.map((x) => {
            const px = side === 28 ? x.pixels : halve(x.pixels, 28);
            return { ids: Int32Array.from(px), label: x.label, length: px.length };
          });
        const all = conv(fashionMnist({ split: "train" }));
        // A fixed validation split: every 10th training image (class-balanced, as the file is).
        let train = all.filter((_, i) => i % 10 !== 9);
        let validation = all.filter((_, i) => i % 10 === 9);
        let test = conv(fashionMnist({ split: "test" }));
        if (tier === "tiny") [train, validation, test] = [train.slice(0, COUNTS.tiny.train), validation.slice(0, COUNTS.tiny.validation), test.slice(0, COUNTS.tiny.test)];
        return {
          name: "image",
          kind: "classify",
          vocab: 256,
          pad: null,
          classes: 10,
          seqLen: side * side,
          train,
          validation,
          test,
          chance: majority(test, 10),
          chanceNote: "majority class of the test split (balanced: 0.1)",
          size: `${side}x${side}`,
        };
      }),
  },
  {
    name: "mqar",
    description: "multi-query associative recall (Zoology): key-value pairs, then each key queried; scored at the queries",
    sizes: { tiny: "vocab 128, T = 32, 4 pairs", small: "vocab 256, T = 64, 4 pairs (Zoology: vocab 8192)" },
    load: (tier: DataSize) =>
      memo(`mqar ${tier}`, () => {
        const o = MQAR[tier];
        const s = taskSplits((count, seed) => mqar({ count, seed, ...o }), COUNTS[tier]);
        return {
          name: "mqar",
          kind: "sequence",
          vocab: o.vocabSize,
          pad: null,
          classes: o.vocabSize,
          seqLen: o.seqLen,
          train: s.train.map(seqExample),
          validation: s.validation.map(seqExample),
          test: s.test.map(seqExample),
          chance: 1 / o.numKvPairs,
          chanceNote: `1 / pairs: guessing one of the values in the context without recall (uniform over the ${o.vocabSize / 2} values: ${(2 / o.vocabSize).toFixed(4)})`,
          size: `V${o.vocabSize} T${o.seqLen} kv${o.numKvPairs}`,
        };
      }),
  },
  {
    name: "induction",
    description: "induction heads (H3 synthetic): predict the token that followed the trigger's earlier occurrence",
    sizes: { tiny: "T = 17, vocab 16", small: "T = 33, vocab 16" },
    load: (tier: DataSize) =>
      memo(`induction ${tier}`, () => {
        const o = INDUCTION[tier];
        const s = taskSplits((count, seed) => inductionHeads({ count, seed, ...o }), COUNTS[tier]);
        return {
          name: "induction",
          kind: "sequence",
          vocab: o.vocabSize,
          pad: null,
          classes: o.vocabSize,
          seqLen: o.seqLen + 1,
          train: s.train.map(seqExample),
          validation: s.validation.map(seqExample),
          test: s.test.map(seqExample),
          chance: 1 / (o.vocabSize - 1),
          chanceNote: "1 / ordinary tokens (uniform iid)",
          size: `T${o.seqLen + 1} V${o.vocabSize}`,
        };
      }),
  },
  {
    name: "copying",
    description: "selective copying (Mamba 4.1.1): data tokens among noise, output them in order at the markers",
    sizes: { tiny: "16 positions, 4 tokens of 8", small: "32 positions, 4 tokens of 8 (the trainer: 64 and 8)" },
    load: (tier: DataSize) =>
      memo(`copying ${tier}`, () => {
        const o = COPY[tier];
        const s = taskSplits((count, seed) => selectiveCopying({ count, seed, ...o }), COUNTS[tier]);
        return {
          name: "copying",
          kind: "sequence",
          vocab: o.vocab + 2,
          pad: null,
          classes: o.vocab + 2,
          seqLen: o.length + o.tokens,
          train: s.train.map(seqExample),
          validation: s.validation.map(seqExample),
          test: s.test.map(seqExample),
          chance: 1 / o.vocab,
          chanceNote: "1 / data values (uniform iid)",
          size: `L${o.length} k${o.tokens}`,
        };
      }),
  },
];

export const TASK_NAMES = TASKS.map((t) => t.name);

export function taskSpec(name: string): TaskSpec {
  const t = TASKS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown task '${name}' (${TASK_NAMES.join(", ")})`);
  return t;
}

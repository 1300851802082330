/**
 * Task generators for the bench's "what each piece buys" runs (issue 16, section 1): seeded,
 * deterministic, plain JS data (typed arrays, strings), no tensors, no I/O and no work at import,
 * so dist/tasks.js loads in a browser too. The Fashion-MNIST file loader is Node-only and lives in
 * dist/tasks-node.js (./node.ts), which re-exports all of this.
 */
export { seededRandom, deriveSeed, randInt, distinctInts } from "./random";
export {
  listops,
  listopsTokenize,
  LISTOPS_OPERATORS,
  LISTOPS_VALUE_P,
  LISTOPS_VOCAB,
  LISTOPS_VOCAB_SIZE,
  LISTOPS_PAD,
  type ListOpsOptions,
  type ListOpsExample,
  type ListOpsOperator,
} from "./listops";
export { pathfinder, PATHFINDER_X, PATHFINDER_PATH, PATHFINDER_MARKER, PATHFINDER_LINK, type PathfinderOptions, type PathfinderExample } from "./pathfinder";
export { mqar, IGNORE_INDEX, type MqarOptions, type SequenceExample } from "./mqar";
export { inductionHeads, type InductionOptions } from "./induction";
export { selectiveCopying, selectiveCopyingBatch, type CopyTask, type SelectiveCopyingOptions } from "./selective-copying";
export { FASHION_MNIST_CLASSES, FASHION_MNIST_SIDE, FASHION_MNIST_PIXELS, decodeImages, type ImageExample } from "./fashion-mnist";
export {
  preTokenize,
  wordPieces,
  buildVocabulary,
  encodeText,
  SPECIAL_TOKENS,
  PAD_ID,
  UNK_ID,
  CLS_ID,
  SEP_ID,
  MASK_ID,
  type TextExample,
  type Vocabulary,
  type EncodedText,
} from "./spam-assassin";
export { taskSplits, splitSeed, SPLITS, type Split } from "./splits";

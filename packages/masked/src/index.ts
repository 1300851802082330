/**
 * @tessera/masked: mask generators, MaskGIT schedules and decoding, and masked-modeling losses.
 */
export { bertMask, spanMask, spanLengthDistribution, t5NoiseMask, t5SpanCorruption, IGNORE_INDEX } from "./text";
export type { BertMaskOptions, SpanMaskOptions, SpanMasked, MaskedTokens, TokenMaskOptions, T5NoiseOptions, T5SpanCorruptionOptions, T5Corrupted, WordIds } from "./text";
export { randomMask, blockwiseMask, blockwiseMaskArray, tubeMask } from "./vision";
export type { RandomMasking, BlockwiseMaskOptions, MaskBlock, TubeMaskOptions, GeneratorOptions } from "./vision";
export { maskgitSchedule, MASKGIT_SCHEDULES } from "./schedule";
export type { MaskgitScheduleKind, ScheduleOptions } from "./schedule";
export { maskgitDecode } from "./maskgit";
export type { MaskgitModel, MaskgitDecodeOptions, MaskgitDecodeResult } from "./maskgit";
export { mlmLoss, maskedPatchLoss, maskedTokenLoss, electraCorrupt, replacedTokenLoss } from "./losses";
export type { MaskedPatchLossOptions, ElectraCorruptOptions, ElectraCorruption, ReplacedTokenLossOptions, ReplacedTokenLoss } from "./losses";
export { manualSeedMasked, type Seed } from "./random";
export type { IdsLike } from "./util";

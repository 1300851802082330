/**
 * @tessera/attention: softmax attention (masks, GQA, KV cache, tiled/flash), positions
 * (RoPE, ALiBi, sinusoidal) and attention variants, each with a readable reference.
 */
export { scaledDotProductAttention, type AttentionOptions } from "./sdpa";
export type { BiasOptions } from "./bias";
export { checkQKV, type QKVDims } from "./shapes";
export { FLASH_ATTENTION, FUSED_ATTENTION, type FlashForwardKernel, type FusedAttentionKernel, type FusedAttentionOptions } from "./kernels";
export { initAttentionThreads } from "./flash-wasm/runtime";
export { causalMask, slidingWindowMask, blockDiagonalMask, globalTokensMask, blockSparseMask, keyPaddingMask, allOf, anyOf, toAdditive } from "./masks";
export { rope, applyRope, ropeTables, ropeInvFreq, type RopeOptions, type RopeScaling } from "./rope";
export { alibiSlopes, sinusoidalPositions } from "./positions";
export { KVCache, cachedAttention, type KVCacheOptions, type EvictionPolicy } from "./kvcache";
export { sigmoidAttention, type SigmoidAttentionOptions } from "./variants/sigmoid";
export { clippedSoftmax, clippedSoftmaxAttention, type ClippedSoftmaxOptions, type ClippedAttentionOptions } from "./variants/clipped";
export { AttentionGate, type AttentionGateOptions } from "./variants/gated";
export {
  linearAttention,
  normAttention,
  linearAttentionStep,
  linearInitState,
  featureMap,
  repeatKV,
  type FeatureMap,
  type LinearAttentionOptions,
  type NormAttentionOptions,
  type LinearState,
} from "./variants/linear";
export { slidingWindowAttention, diagAttention, blockSparseAttention, type SlidingWindowOptions, type DiagAttentionOptions, type BlockSparseOptions } from "./variants/local";
export { swinAttention, swinLayout, relativePositionIndex, type SwinOptions } from "./variants/swin";
export { probSparseAttention, type ProbSparseOptions } from "./variants/probsparse";
export { hashCodes, fitKernelHash, hashedAttention, hashedAttentionReference, type KernelHash, type FitHashOptions } from "./variants/ecoformer";

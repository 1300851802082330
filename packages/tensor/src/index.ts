/**
 * @tessera/tensor: tensors, dtypes, views, ops, autograd, backends, nn and IO.
 */
// core
export { Tensor, isTensor, type NestedArray, type NestedNumbers, type Rank } from "./core/tensor";
export { float32Blocks, float32Rows, float32Values } from "./core/values";
export { DTYPES, isFloat, promoteTypes, type DType, type DataArray, type DataArrayOf, type StorageArray } from "./core/dtype";
export { TesseraError, fail, fmtShape } from "./core/errors";
export {
  registerKernel,
  unregisterKernel,
  getKernel,
  hasKernel,
  listKernels,
  kernelBackends,
  kernelStats,
  resetKernelStats,
  setKernelPreference,
  getKernelPreference,
  withKernelPreference,
  type KernelPreference,
  type GetKernelOptions,
} from "./core/kernels";
export {
  dispose,
  getBackendName,
  keep,
  listBackends,
  memory,
  resetPeakMemory,
  ready,
  registerBackend,
  setBackend,
  tidy,
  type MemoryInfo,
} from "./core/engine";
export type { BackendMemory } from "./core/storage";
export { broadcastShapes, sizeOf, type Shape } from "./core/shape";

// backends
export type { Backend, View, UnaryOp, BinaryOp, ReduceOp, ArgReduceOp, CumulativeOp, Conv1dParams, UnaryAttrs } from "./backend/backend";
export { UNARY_OPS, BINARY_OPS, REDUCE_OPS, ARG_REDUCE_OPS, CUMULATIVE_OPS } from "./backend/backend";
export { createCpuBackend } from "./backend/cpu";
export {
  CPU_ATTENTION,
  CPU_GEMM,
  CPU_ELEMENTWISE,
  type CpuAttentionKernel,
  type CpuAttentionProblem,
  type CpuAttentionRows,
  type CpuGemmKernel,
  type CpuElementwiseKernel,
  type CpuRowOp,
} from "./backend/cpu/registered";
export {
  setCpuSimd,
  initCpuThreads,
  cpuSimdAvailable,
  cpuThreadsError,
  setCpuWeightCache,
  cpuWeightCacheStats,
  canShareWasmMemory,
  type CpuThreadOptions,
} from "./backend/cpu/wasm/runtime";
export { cpuSpinFlag, startWasmPool, type WasmPoolOptions, type Pool as WasmPool, type WasmModuleLike, type WasmMemoryLike } from "./backend/cpu/wasm/threads";
export { kernelPool, checkThreadCount, type KernelPool } from "./backend/cpu/wasm/kernel-pool";
export {
  WASM_PAGE,
  decodeWasm,
  compileWasm,
  instantiateWasm,
  createWasmMemory,
  growWasmMemory,
  defaultWasmThreads,
  registerResidentCache,
  reserveResident,
  residentBytes,
  setWasmWeightBudget,
  wasmWeightBudget,
  wasmFeatures,
  type WasmFeatures,
  type WasmModuleVariants,
  type CompiledWasm,
  type ResidentCache,
  type WrittenView,
} from "./backend/cpu/wasm/loader";
export { setCpuPoolLimit, trimCpuPool, cpuPoolStats } from "./backend/cpu/pool";
export { residentEligible } from "./backend/cpu/resident-eligible";

// ops
export { tensor, scalar, full, zeros, ones, fullLike, zerosLike, onesLike, arange, linspace, eye, type CreateOptions, type TensorOptions } from "./ops/creation";
export { cast, clone, toBackend, toBackendAsync } from "./ops/convert";
export { assign } from "./ops/inplace";
export { append, appendCapacity, appendInfo } from "./ops/append";
export { reshape, permute, transpose, expand, broadcastTo, squeeze, unsqueeze, flatten, slice, narrow, select, contiguous, type SliceSpec } from "./ops/view";
export {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  mod,
  atan2,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  logicalAnd,
  logicalOr,
  logicalXor,
  logicalNot,
  where,
  neg,
  abs,
  sign,
  exp,
  expm1,
  log,
  log1p,
  sqrt,
  rsqrt,
  square,
  reciprocal,
  tanh,
  erf,
  sin,
  cos,
  floor,
  ceil,
  round,
  trunc,
  isnan,
  isinf,
  clamp,
} from "./ops/elementwise";
export { sigmoid, relu, gelu, silu, softplus, logSigmoid, elu, leakyRelu } from "./ops/activation";
export { sum, mean, prod, max, min, argmax, argmin, any, all, variance, std, logsumexp, sumTo, type ReduceOptions, type VarOptions } from "./ops/reduce";
export { matmul, linear, affine } from "./ops/matmul";
export { softmax, logSoftmax, layerNorm, rmsNorm } from "./ops/normalization";
export { gather, indexSelect, embedding, scatterAdd, oneHot, flip } from "./ops/indexing";
export { concat, stack, split, chunk, pad } from "./ops/join";
export { conv1d, type Conv1dOptions } from "./ops/conv";
export {
  conv2d,
  convTranspose2d,
  unfold,
  fold,
  upsample,
  avgPool2d,
  maxPool2d,
  groupNorm,
  batchNorm,
  pixelShuffle,
  pixelUnshuffle,
  type Size2,
  type Conv2dOptions,
  type ConvTranspose2dOptions,
  type UnfoldOptions,
  type UpsampleOptions,
  type AvgPool2dOptions,
  type MaxPool2dOptions,
  type BatchNormOptions,
} from "./ops/vision";
export { cumsum, cumprod, type ScanOptions } from "./ops/scan";
export { sort, argsort, topk, type SortResult } from "./ops/sort";
export { triu, tril } from "./ops/triangular";
export { rope, applyRope, ropeTables, ropeInvFreq, type RopeOptions, type RopeScaling } from "./ops/rope";
export { fft, ifft, rfft, irfft, fftConv, complex, complexParts, type FFTOptions, type FFTNorm } from "./ops/fft";
export { crossEntropy, mseLoss, type CrossEntropyOptions } from "./ops/loss";
export type { TensorLike, TypedArray } from "./ops/util";

// random
export { Generator, manualSeed, uniform, normal, randint, bernoulli, dropout, type RandomOptions } from "./random/random";
export { HostRandom } from "./random/host";

// autograd
export {
  grad,
  valueAndGrad,
  gradients,
  customGrad,
  customGradMulti,
  stopGradient,
  identity,
  isRecording,
  type CustomGradResult,
  type CustomGradMultiResult,
  type GradOptions,
} from "./autograd/grad";

// nn
export { Module, ModuleList } from "./nn/module";
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout, type InitOptions } from "./nn/layers";
export { Conv2d, ConvTranspose2d, GroupNorm, BatchNorm2d, type Conv2dLayerOptions, type ConvTranspose2dLayerOptions, type BatchNormLayerOptions } from "./nn/vision";
export { SGD, AdamW, type SGDOptions, type AdamWOptions } from "./nn/optim";
export { disposeState, type TokenMixer, type MixerState } from "./nn/mixer";

// io
export {
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
  writeSafetensorsAsync,
  decodeEntry,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsFile,
  type RawEntry,
  type ReadOptions,
} from "./io/safetensors";
export { fromNdarray, toNdarray, type NdArrayLike, type NdArrayView } from "./io/ndarray";

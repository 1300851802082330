/**
 * @tessera/quantize: exact, documented low-bit formats (int8/4/3/2, ternary, NF4, FP4, fp8)
 * with per-tensor, per-channel, per-group and block-wise scales; bit packing; safetensors IO.
 */
export type { QuantFormat, Granularity } from "./formats/types";
export { codeBits, describe } from "./formats/types";
export { groupLayout, type GroupLayout } from "./formats/groups";
export { NF4_CODE, FP4_CODE, dynamicMap } from "./formats/table4";
export { fp8Encode, fp8Decode, FP8_MAX, type Fp8Variant } from "./formats/fp8";
export { pack, unpack, packedBytes } from "./pack";
export { roundHalfEven } from "./round";
export { QuantizedTensor, quantize, quantizeValues, DOUBLE_QUANT_BLOCK, type DoubleQuant } from "./quantized-tensor";
export { quantizedEntries, quantizedNames, readQuantized } from "./io";
export { QuantizedLinearWeight, quantizedLinear, type QuantizedLinearOptions } from "./linear";
export { QUANTIZED_LINEAR, INT8_MATMUL, FUSED_MAX_ROWS, CPU_FUSED_MAX_ROWS, type QuantizedLinearKernel, type Int8MatmulKernel } from "./kernels/registry";
export { prepareLinear, type PreparedLinear } from "./kernels/prepared";
export { qgemvReference } from "./kernels/reference";
export { setQuantizedWasm, setQuantizedWeightBudget, initQuantizedThreads } from "./kernels/wasm/runtime";
export { gptq, rtn, HessianAccumulator, type GPTQOptions } from "./ptq/gptq";
export { awq, type AWQOptions, type AWQResult } from "./ptq/awq";
export { kurtosis, infinityNorm, sqnr } from "./diagnostics";
export { fakeQuantize, lsqQuantize, lsqInitStep } from "./qat/fake-quant";
export { prune24, densify24, sparse24Linear, type Sparse24 } from "./sparsity";
export { MinMaxObserver, EmaObserver, PercentileObserver, MseObserver, qparams, type Range, type RangeObserver } from "./ptq/observers";
export { calibrate } from "./ptq/calibrate";
export { quantizeModule, type QuantizeRecipe, type LayerReport } from "./module";
export { int8Matmul, int8MatmulReference, int8MatmulTensor, llmInt8Linear, type LLMInt8Result } from "./int8";
export { toInt, intGelu, intSoftmax, intLayerNorm, isqrt, type IntValues } from "./ibert/ops";
export { interventionLoss, interventionSchedule, type InterventionLayer } from "./qat/teacher";
export { integerFFN, integerAttention, dyadic, type IntegerFFNWeights, type IntegerAttentionWeights } from "./ibert/blocks";

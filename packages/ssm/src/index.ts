/**
 * @tessera/ssm: state-space and linear-recurrent sequence layers. Each has a literal recurrence
 * (the reference), a parallel or chunked form, and a one-token step, tested to agree.
 */
export { selectiveScan, type SelectiveScanOptions, type SelectiveScanImplementation, type ScanResult } from "./selective/scan";
export { selectiveStateUpdate, type StateUpdateOptions } from "./selective/step";
export { causalConv1d, causalConv1dStep, CausalConv1d, CAUSAL_CONV1D_UPDATE, type CausalConvOptions, type ConvUpdateKernel, type ConvUpdateInputs } from "./conv";
export { MambaMixer, type MambaOptions, type MambaState } from "./mamba/mixer";
export { dtBiasInit, s4dRealLogA, type DtInitOptions } from "./init";
export { Mamba2Mixer, type Mamba2Options, type Mamba2State } from "./mamba/mixer2";
export { ssd, ssdStep, type SsdOptions } from "./mamba/ssd";
export { gatedRmsNorm, GatedRMSNorm } from "./norm";
export type { DecayForm, DecayOptions, RecurrenceResult } from "./linear/decay";
export { simpleGla, simpleGlaStep } from "./linear/simple-gla";
export { retention, retentionStep, retentionGammas, type RetentionOptions } from "./linear/retention";
export { gla, glaStep, type GlaOptions } from "./linear/gla";
export { deltaRule, deltaRuleStep, unitLowerInverse, type DeltaRuleOptions } from "./linear/delta";
export { MultiScaleRetention, type RetentionLayerOptions, type RetentionState } from "./layers/retnet";
export { GatedLinearAttention, type GlaLayerOptions, type GlaState } from "./layers/gla";
export { DeltaNet, type DeltaNetOptions, type DeltaNetState } from "./layers/deltanet";
export { ShortConvolution } from "./layers/common";
export { S4D, S4DKernel, type S4DOptions, type S4DState } from "./lti/s4d";
export { LMU, legendreSystem, type LMUOptions, type LMUState } from "./lti/lmu";
export { expm, zeroOrderHold } from "./lti/expm";
export { associativeMemory, associativeMemoryStep, createMemoryState, type AssociativeOptions } from "./memory/associative";
export type { AssociativeState, MemoryConfig, MemoryGates, InnerOptimizer } from "./memory/config";
export type { AttentionalBias } from "./memory/bias";
export type { MemoryArchitecture } from "./memory/architecture";
export { polynomialFeatures, polynomialWidth } from "./memory/features";
export { newtonSchulz } from "./memory/newton-schulz";
export { NeuralMemory, MEMORY_PRESETS, type NeuralMemoryOptions } from "./memory/layer";
export { setScanWasm, scanWasmAvailable, initScanThreads } from "./selective/kernel-wasm";
export { SELECTIVE_SCAN, SELECTIVE_STATE_UPDATE, type SelectiveScanKernel, type ScanSlot, type StateUpdateKernel, type StateUpdateInputs } from "./selective/kernels";
export type { ScanShape } from "./selective/kernel-cpu";

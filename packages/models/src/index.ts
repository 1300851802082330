/**
 * @tessera/models: real architectures (GPT-2, Llama/Mistral/Qwen2, BERT, ViT, Mamba, Mamba-2)
 * built from swappable MetaFormer blocks, loaded from Hugging Face weights; generation and
 * training utilities. Folder IO is in `@tessera/models/node`; the CLI is the `tessera` bin.
 */
export { Projection, type ProjectionOptions } from "./nn/projection";
export { MLP, type MLPOptions } from "./nn/mlp";
export { activate, ACTIVATIONS, type Activation } from "./nn/activation";
export { SelfAttention, type SelfAttentionOptions, type AttentionState, type AttentionContext } from "./nn/attention";
export { Block, type BlockParts, type Layer, type MixerModule } from "./nn/block";
export { PoolingMixer, type PoolState } from "./nn/pool";
export { CausalLM, type CausalLMOptions, type CausalLMOutput, type CausalLMForwardOptions, type LMState } from "./arch/causal-lm";
export { BertForMaskedLM, type BertOptions, type BertForwardOptions } from "./arch/bert";
export { ViTForImageClassification, PatchEmbedding, type ViTOptions } from "./arch/vit";
export { HFConfig, type RawConfig } from "./hf/config";
export { NameMap, type NameRule } from "./hf/names";
export { loadHFWeights, hfStateDict, type HFInfo } from "./hf/weights";
export type { BuildOptions } from "./hf/build-options";
export { modelFromConfig, fromPretrained, MODEL_TYPES, type Pretrained, type PretrainedTask, type PretrainedFor, type PretrainedOf, type TaskOptions } from "./hf/registry";
export { generate, type GenerateOptions, type GenerateResult } from "./generate/generate";
export { sampleToken, type SamplingOptions } from "./generate/sampling";
export { checkAgainstReference, type CheckReport } from "./check";
export { lmLoss } from "./train/loss";
export { clipGradNorm } from "./train/clip";
export { lrSchedule, type ScheduleOptions } from "./train/schedule";
export { LMTrainer, type TrainerOptions } from "./train/trainer";
export { quantizeModel, type QuantizeModelOptions, type QuantizeModelReport } from "./quantize-model";
export { castModel, type CastModelOptions, type CastModelReport } from "./cast-model";
export { MaskedAutoencoderViT, patchify, unpatchify, sincosPositions2d } from "./arch/mae";
export type { MaskedAutoencoderOptions, MaskedAutoencoderForwardOptions, MaskedAutoencoderOutput, PatchMasking } from "./arch/mae";
export { Electra, ElectraEmbeddings, ElectraEncoder, ElectraDiscriminator, ElectraGenerator, replacedTokenDetectionLoss } from "./arch/electra";
export type { ElectraEmbeddingsOptions, ElectraEncoderOptions, ElectraDiscriminatorOptions, ElectraForwardOptions, ElectraStepOptions } from "./arch/electra";
export { BeitForMaskedImageModeling, BeitBlock, RelativePositionBias } from "./arch/beit";
export type { BeitOptions, BeitBlockParts, BeitForwardOptions } from "./arch/beit";
export { buildViTMAE, vitBlock, type VitBlockOptions } from "./hf/vit-mae";
export { buildElectraDiscriminator, buildElectraGenerator, electraEmbeddings, electraGeneratorConfig, electraFromConfigs } from "./hf/electra";
export { buildBeit } from "./hf/beit";
export { ElectraTrainer, type ElectraStepResult } from "./train/electra-trainer";
export { ConvResBlock, type ConvResBlockOptions } from "./nn/res-block";
export { VQTokenizer, type VQTokenizerOptions, type VQTokenizerOutput, type VQQuantizerOptions } from "./arch/vq-tokenizer";
export {
  MaskGITTransformer,
  type MaskGITTransformerOptions,
  type MaskGITTrainingOptions,
  type MaskGITTrainingLoss,
  type MaskGITGenerateOptions,
} from "./arch/maskgit-transformer";

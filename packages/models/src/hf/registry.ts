/**
 * From a config.json and a state dict to a model: picks the architecture by `model_type`,
 * builds it, checks and copies the weights.
 */
import type { Tensor } from "@tessera/tensor";
import type { BertForMaskedLM } from "../arch/bert";
import type { CausalLM } from "../arch/causal-lm";
import type { ViTForImageClassification } from "../arch/vit";
import type { MaskedAutoencoderViT } from "../arch/mae";
import type { BeitForMaskedImageModeling } from "../arch/beit";
import type { ElectraDiscriminator, ElectraGenerator } from "../arch/electra";
import { fail } from "../errors";
import { buildBert } from "./bert";
import type { BuildOptions } from "./build-options";
import type { RawConfig } from "./config";
import { buildGPT2 } from "../arch/gpt2";
import { buildLlama } from "../arch/llama";
import { buildMamba } from "../arch/mamba";
import { buildViT } from "./vit";
import { buildViTMAE } from "./vit-mae";
import { buildBeit } from "./beit";
import { buildElectraDiscriminator, buildElectraGenerator, isElectraGenerator } from "./electra";
import { loadHFWeights, type HFInfo } from "./weights";

export type Pretrained =
  | { task: "causal-lm"; modelType: "gpt2" | "llama" | "mistral" | "qwen2" | "mamba" | "mamba2"; model: CausalLM; info: HFInfo }
  | { task: "masked-lm"; modelType: "bert"; model: BertForMaskedLM; info: HFInfo }
  | { task: "masked-lm"; modelType: "electra"; model: ElectraGenerator; info: HFInfo }
  | { task: "replaced-token-detection"; modelType: "electra"; model: ElectraDiscriminator; info: HFInfo }
  | { task: "image-classification"; modelType: "vit"; model: ViTForImageClassification; info: HFInfo }
  | { task: "masked-image-pretraining"; modelType: "vit_mae"; model: MaskedAutoencoderViT; info: HFInfo }
  | { task: "masked-image-modeling"; modelType: "beit"; model: BeitForMaskedImageModeling; info: HFInfo };

export const MODEL_TYPES = ["gpt2", "llama", "mistral", "qwen2", "mamba", "mamba2", "bert", "electra", "vit", "vit_mae", "beit"] as const;

/**
 * What a model does: "causal-lm" (generate), "masked-lm" (BERT, the ELECTRA generator),
 * "replaced-token-detection" (the ELECTRA discriminator), "image-classification" (ViT),
 * "masked-image-pretraining" (MAE) or "masked-image-modeling" (BEiT).
 */
export type PretrainedTask = Pretrained["task"];

/** The result for one task: `PretrainedFor<"causal-lm">["model"]` is a CausalLM. */
export type PretrainedFor<T extends PretrainedTask> = Extract<Pretrained, { task: T }>;

type ForModelType<M, P = Pretrained> = P extends { modelType: infer K } ? (M extends K ? P : never) : never;

/**
 * The result for a `model_type` known where the config is written (`{ model_type: "llama", ... }`
 * gives the causal-lm result); the whole `Pretrained` union for a type known only at run time.
 */
export type PretrainedOf<M extends string> = [ForModelType<M>] extends [never] ? Pretrained : ForModelType<M>;

/** BuildOptions plus the task the caller expects: the result is typed for it and checked. */
export interface TaskOptions<T extends PretrainedTask> extends BuildOptions {
  /** Fails (before building anything) when the config describes a model for another task. */
  task: T;
}

const TASK_OF: Record<string, PretrainedTask> = {
  gpt2: "causal-lm",
  llama: "causal-lm",
  mistral: "causal-lm",
  qwen2: "causal-lm",
  mamba: "causal-lm",
  mamba2: "causal-lm",
  bert: "masked-lm",
  vit: "image-classification",
  vit_mae: "masked-image-pretraining",
  beit: "masked-image-modeling",
};

/** The task of a config: by model_type, and for ELECTRA by `architectures` (generator or discriminator). */
function taskOf(config: RawConfig): PretrainedTask | undefined {
  const type = config.model_type;
  if (type === "electra") return isElectraGenerator(config) ? "masked-lm" : "replaced-token-detection";
  return typeof type === "string" && Object.hasOwn(TASK_OF, type) ? TASK_OF[type] : undefined;
}

function checkTask(op: string, config: RawConfig, task: PretrainedTask | undefined): void {
  const type = config.model_type;
  const actual = taskOf(config);
  if (task !== undefined && actual !== undefined && actual !== task) fail(op, `expected a ${task} model, but config.json model_type "${type as string}" is a ${actual} model`);
}

/**
 * Builds the architecture a config describes, with random weights (seeded). The result is typed
 * by the config's `model_type` when it is a literal, or by `opts.task` (checked at run time).
 */
export function modelFromConfig<T extends PretrainedTask>(config: RawConfig, opts: TaskOptions<T>): PretrainedFor<T>;
export function modelFromConfig<M extends string = string>(config: RawConfig & { model_type?: M }, opts?: BuildOptions & { task?: PretrainedTask }): PretrainedOf<M>;
export function modelFromConfig(config: RawConfig, opts: BuildOptions & { task?: PretrainedTask } = {}): Pretrained {
  checkTask("modelFromConfig", config, opts.task);
  const type = config.model_type;
  switch (type) {
    case "gpt2":
      return { task: "causal-lm", modelType: type, ...buildGPT2(config, opts) };
    case "llama":
    case "mistral":
    case "qwen2":
      return { task: "causal-lm", modelType: type, ...buildLlama(config, opts, type) };
    case "mamba":
      return { task: "causal-lm", modelType: type, ...buildMamba(config, opts, 1) };
    case "mamba2":
      return { task: "causal-lm", modelType: type, ...buildMamba(config, opts, 2) };
    case "bert":
      return { task: "masked-lm", modelType: type, ...buildBert(config, opts) };
    case "vit":
      return { task: "image-classification", modelType: type, ...buildViT(config, opts) };
    case "electra":
      return isElectraGenerator(config)
        ? { task: "masked-lm", modelType: type, ...buildElectraGenerator(config, opts) }
        : { task: "replaced-token-detection", modelType: type, ...buildElectraDiscriminator(config, opts) };
    case "beit":
      return { task: "masked-image-modeling", modelType: type, ...buildBeit(config, opts) };
    case "vit_mae":
      return { task: "masked-image-pretraining", modelType: type, ...buildViTMAE(config, opts) };
    default:
      return fail("loadModel", `config.json model_type ${JSON.stringify(type)} is not supported (supported: ${MODEL_TYPES.join(", ")})`);
  }
}

/** Builds the model and loads Hugging Face-named weights into it (all checked first). */
export function fromPretrained<T extends PretrainedTask>(config: RawConfig, weights: Record<string, Tensor>, opts: TaskOptions<T> & { source?: string }): PretrainedFor<T>;
export function fromPretrained<M extends string = string>(
  config: RawConfig & { model_type?: M },
  weights: Record<string, Tensor>,
  opts?: BuildOptions & { source?: string; task?: PretrainedTask },
): PretrainedOf<M>;
export function fromPretrained(config: RawConfig, weights: Record<string, Tensor>, opts: BuildOptions & { source?: string; task?: PretrainedTask } = {}): Pretrained {
  checkTask("fromPretrained", config, opts.task);
  const p: Pretrained = modelFromConfig(config, { seed: 0, ...opts });
  try {
    loadHFWeights(p.model, p.info, weights, opts.source);
  } catch (e) {
    p.model.dispose();
    throw e;
  }
  p.model.eval();
  return p;
}

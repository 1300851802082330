/**
 * From a config.json and a state dict to a model: picks the architecture by `model_type`,
 * builds it, checks and copies the weights.
 */
import type { Tensor } from "@tessera/tensor";
import type { BertForMaskedLM } from "../arch/bert";
import type { CausalLM } from "../arch/causal-lm";
import type { ViTForImageClassification } from "../arch/vit";
import { fail } from "../errors";
import { buildBert } from "./bert";
import type { BuildOptions } from "./build-options";
import type { RawConfig } from "./config";
import { buildGPT2 } from "./gpt2";
import { buildLlama } from "./llama";
import { buildMamba } from "./mamba";
import { buildViT } from "./vit";
import { loadHFWeights, type HFInfo } from "./weights";

export type Pretrained =
  | { task: "causal-lm"; modelType: "gpt2" | "llama" | "mistral" | "qwen2" | "mamba" | "mamba2"; model: CausalLM; info: HFInfo }
  | { task: "masked-lm"; modelType: "bert"; model: BertForMaskedLM; info: HFInfo }
  | { task: "image-classification"; modelType: "vit"; model: ViTForImageClassification; info: HFInfo };

export const MODEL_TYPES = ["gpt2", "llama", "mistral", "qwen2", "mamba", "mamba2", "bert", "vit"] as const;

/** Builds the architecture a config describes, with random weights (seeded). */
export function modelFromConfig(config: RawConfig, opts: BuildOptions = {}): Pretrained {
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
    default:
      return fail("loadModel", `config.json model_type ${JSON.stringify(type)} is not supported (supported: ${MODEL_TYPES.join(", ")})`);
  }
}

/** Builds the model and loads Hugging Face-named weights into it (all checked first). */
export function fromPretrained(config: RawConfig, weights: Record<string, Tensor>, opts: BuildOptions & { source?: string } = {}): Pretrained {
  const p = modelFromConfig(config, { seed: 0, ...opts });
  try {
    loadHFWeights(p.model, p.info, weights, opts.source);
  } catch (e) {
    p.model.dispose();
    throw e;
  }
  p.model.eval();
  return p;
}

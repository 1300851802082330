/**
 * Small configs of each architecture with sizes unlike the fixtures' (other heads, GQA ratios,
 * vocabularies, depths): fixtures/configs/random.json, shared with the onnx package's tests.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RawConfig } from "../src/index";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "fixtures", "configs", "random.json");
export const CONFIGS: Record<string, RawConfig> = JSON.parse(readFileSync(file, "utf8"));

export const CAUSAL = ["gpt2", "llama", "mistral", "qwen2", "mamba", "mamba2"] as const;

/** A small ELECTRA discriminator (its generator: electraGeneratorConfig), 16-wide embeddings projected to 32. */
export const ELECTRA_DISCRIMINATOR = {
  model_type: "electra",
  architectures: ["ElectraForPreTraining"],
  vocab_size: 40,
  embedding_size: 16,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 32,
};

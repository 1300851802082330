/** The full-size models with random weights that the models suite and the GPU turnkey (gpu-main.ts) time. */
import type { RawConfig } from "@tessera/models";

export interface Spec {
  name: string;
  config: RawConfig;
}

export const FULL: Spec[] = [
  { name: "gpt2-124M", config: { model_type: "gpt2", vocab_size: 50257, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024 } },
  {
    name: "llama-gqa-125M",
    config: {
      model_type: "llama",
      vocab_size: 32000,
      hidden_size: 768,
      intermediate_size: 2048,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      num_key_value_heads: 4,
      max_position_embeddings: 2048,
    },
  },
  { name: "mamba-130M", config: { model_type: "mamba", vocab_size: 50280, hidden_size: 768, num_hidden_layers: 24, state_size: 16, expand: 2 } },
];

/** Random configs of other sizes than the fixtures' (as packages/models/test/configs.ts). */
import type { RawConfig } from "@tessera/models";

export const CONFIGS: Record<string, RawConfig> = {
  gpt2: { model_type: "gpt2", vocab_size: 37, n_embd: 24, n_head: 3, n_layer: 3, n_positions: 40, n_inner: 40, activation_function: "gelu_new", initializer_range: 0.2 },
  llama: { model_type: "llama", vocab_size: 41, hidden_size: 48, intermediate_size: 56, num_hidden_layers: 3, num_attention_heads: 6, num_key_value_heads: 2, head_dim: 10, rms_norm_eps: 1e-6, rope_theta: 500, initializer_range: 0.2, tie_word_embeddings: true },
  mistral: { model_type: "mistral", vocab_size: 29, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, sliding_window: 4, initializer_range: 0.2 },
  qwen2: { model_type: "qwen2", vocab_size: 33, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_parameters: { rope_theta: 1e6, rope_type: "linear", factor: 2 }, initializer_range: 0.2 },
  mamba: { model_type: "mamba", vocab_size: 23, hidden_size: 24, intermediate_size: 48, state_size: 8, num_hidden_layers: 3, expand: 2, conv_kernel: 3, time_step_rank: "auto", initializer_range: 0.2 },
  bert: { model_type: "bert", vocab_size: 30, hidden_size: 24, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 36, max_position_embeddings: 20, type_vocab_size: 3, hidden_act: "gelu", initializer_range: 0.2 },
  vit: { model_type: "vit", image_size: 12, patch_size: 4, num_channels: 2, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 24, num_labels: 5, hidden_act: "gelu", initializer_range: 0.2 },
};

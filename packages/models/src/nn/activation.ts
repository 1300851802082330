/**
 * Activations by their Hugging Face `hidden_act` / `activation_function` names.
 *  - gelu: x Phi(x), exact (erf);
 *  - gelu_new / gelu_pytorch_tanh: the tanh approximation (GPT-2);
 *  - silu / swish: x sigmoid(x) (Llama's SwiGLU gate);
 *  - relu.
 */
import { gelu, relu, silu, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";

export type Activation = "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "silu" | "swish" | "relu";

export const ACTIVATIONS: readonly Activation[] = ["gelu", "gelu_new", "gelu_pytorch_tanh", "silu", "swish", "relu"];

export function checkActivation(op: string, name: unknown): Activation {
  if (typeof name !== "string" || !(ACTIVATIONS as readonly string[]).includes(name)) {
    fail(op, `activation '${String(name)}' is not supported (supported: ${ACTIVATIONS.join(", ")})`);
  }
  return name as Activation;
}

export function activate(x: Tensor, act: Activation): Tensor {
  switch (act) {
    case "gelu":
      return gelu(x);
    case "gelu_new":
    case "gelu_pytorch_tanh":
      return gelu(x, "tanh");
    case "silu":
    case "swish":
      return silu(x);
    case "relu":
      return relu(x);
  }
}

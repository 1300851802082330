/**
 * GPT-2 in onnxruntime-node: the bench's own model exported by @tessera/onnx's `exportOnnx`
 * (the graph Hugging Face optimum would give: input_ids, attention_mask, position_ids ->
 * logits and present.{i}.key/value; the decode graph also takes past_key_values.{i}.key/value).
 * The anchor a user would reach for (transformers.js and friends run GPT-2 through ONNX Runtime).
 * Any exported causal LM runs the same way: the models suite also decodes its weight-only
 * quantized models (int8, int4: com.microsoft MatMulNBits) through it.
 */
import type { Tensor } from "@tessera/tensor";
import type { CausalLM, HFInfo, LMState } from "@tessera/models";
import { exportOnnx, type ExportOptions } from "@tessera/onnx";
import { createSession, ort } from "./ort";

const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);

export interface Gpt2Runner {
  run(): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * A session running `tokens` (batch 1) through the exported model: prefill when `past` is null,
 * otherwise one decode graph run continuing the Tessera state `past` (its keys/values fed as
 * past_key_values). Returns the logits [1, T, V]. `opts`: more export options (a quantized model's
 * projections are exported as MatMulNBits whatever they say).
 */
export async function gpt2Session(model: CausalLM, info: HFInfo, tokens: number[], past: LMState | null, opts: ExportOptions = {}): Promise<Gpt2Runner> {
  const e = await exportOnnx(model, info, { ...opts, decode: past !== null });
  const session = await createSession(e.bytes);
  const P = past?.pos ?? 0;
  const T = tokens.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: i64(tokens),
    attention_mask: i64(Array(P + T).fill(1)),
    position_ids: i64(Array.from({ length: T }, (_, t) => P + t)),
  };
  if (past) {
    for (let l = 0; l < past.layers.length; l++) {
      for (const kind of ["k", "v"] as const) {
        const t = past.layers[l][kind] as Tensor; // [1, H, P, Dh]
        feeds[`past_key_values.${l}.${kind === "k" ? "key" : "value"}`] = new ort.Tensor("float32", (await t.data("float32")) as Float32Array, [...t.shape]);
      }
    }
  }
  return {
    run: async () => (await session.run(feeds, ["logits"])).logits.data as Float32Array,
    release: () => session.release(),
  };
}

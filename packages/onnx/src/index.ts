/**
 * @tessera/onnx: ONNX export of Tessera models (GPT-2, Llama/Mistral/Qwen2, BERT, ViT) with
 * prefill and KV-cache decode graphs named as Hugging Face's ONNX exports, and the small graph
 * builder it is written with. Writing files: `@tessera/onnx/node`; the CLI is the `tessera-onnx` bin.
 */
export { exportOnnx, type ExportOptions, type OnnxExport, type ValueSpec } from "./export";
export {
  OnnxGraph,
  decodeModel,
  type DecodedModel,
  float,
  floats,
  irVersionFor,
  FloatAttr,
  FloatsAttr,
  DTYPE_BYTES,
  type AttrValue,
  type Dim,
  type OnnxDType,
  type ModelOptions,
  type NodeOptions,
  type TensorData,
} from "./graph";
export { f32ToF16Bits } from "./half";
export { toMatMulNBits, dequantizeNBits, type NBitsWeight } from "./nbits";

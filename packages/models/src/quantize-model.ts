/**
 * Weight-only quantization of a model's projections (@tessera/quantize): every Projection whose
 * name matches `include` (default: the blocks' projections) and not `exclude` gets a quantized
 * weight; embeddings, norms and the head keep float32 (as Hugging Face's bitsandbytes integration
 * skips lm_head). Reports what was quantized and the bytes before and after.
 */
import { describe, type QuantFormat } from "@tessera/quantize";
import type { Module } from "@tessera/tensor";
import { fail } from "./errors";
import { Projection } from "./nn/projection";

export interface QuantizeModelOptions {
  format: QuantFormat;
  include?: RegExp;
  exclude?: RegExp;
}

export interface QuantizeModelReport {
  format: string;
  layers: string[];
  /** Bytes of the quantized layers' float32 weights before, and of their codes + scales after. */
  bytesBefore: number;
  bytesAfter: number;
  /** Layers whose format has a fused decode kernel. */
  fused: number;
}

export function quantizeModel(model: Module, opts: QuantizeModelOptions): QuantizeModelReport {
  const include = opts.include ?? /^blocks\./;
  const layers: string[] = [];
  let before = 0;
  let after = 0;
  let fused = 0;
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Projection) || m.quantized || !include.test(name) || opts.exclude?.test(name)) continue;
    before += m.weight.size * 4;
    m.quantize(opts.format);
    after += m.quantized!.q.bytes;
    if (m.quantized!.fused) fused++;
    layers.push(name);
  }
  if (!layers.length) fail("quantizeModel", `no unquantized projection matches ${include}${opts.exclude ? ` minus ${opts.exclude}` : ""}`);
  return { format: describe(opts.format), layers, bytesBefore: before, bytesAfter: after, fused };
}

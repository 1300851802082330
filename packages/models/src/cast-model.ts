/**
 * Half-precision weight storage for a model's projections (PyTorch's `model.half()`, restricted
 * to the dense layers): every Projection whose name matches `include` (default: the blocks'
 * projections) and not `exclude` keeps its weight as float16 or bfloat16. Embeddings, norms,
 * biases and activations stay float32, so every product is float32 arithmetic on the rounded
 * weights. On webgpu the weights take half the memory and are read packed by the matmul kernel.
 */
import type { Module } from "@tessera/tensor";
import { fail } from "./errors";
import { Projection } from "./nn/projection";

export interface CastModelOptions {
  dtype: "float16" | "bfloat16" | "float32";
  include?: RegExp;
  exclude?: RegExp;
}

export interface CastModelReport {
  dtype: string;
  layers: string[];
  /** Bytes of those layers' weights before and after (storage bytes, as memory() counts them). */
  bytesBefore: number;
  bytesAfter: number;
}

export function castModel(model: Module, opts: CastModelOptions): CastModelReport {
  const include = opts.include ?? /^blocks\./;
  const layers: string[] = [];
  let before = 0;
  let after = 0;
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Projection) || !include.test(name) || opts.exclude?.test(name)) continue;
    if (m.quantized) fail("castModel", `projection '${name}' is quantized; cast before quantizing, or not at all`);
    before += m.weight.storage.bytes;
    m.castWeight(opts.dtype);
    after += m.weight.storage.bytes;
    layers.push(name);
  }
  if (!layers.length) fail("castModel", `no projection matches ${include}${opts.exclude ? ` minus ${opts.exclude}` : ""}`);
  return { dtype: opts.dtype, layers, bytesBefore: before, bytesAfter: after };
}

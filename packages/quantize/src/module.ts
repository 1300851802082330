/**
 * quantizeModule: weight-only quantization of the plain `nn.Linear` layers of any Module tree
 * (@tessera/tensor's Linear), chosen by name. Each matching layer's forward becomes
 * quantizedLinear with a QuantizedLinearWeight, and its float weight is freed and leaves the
 * state dict (reading `.weight` afterwards is an error). The report lists every layer with its
 * bytes before and after and the weight's SQNR (dB): the per-layer error report.
 */
import { Linear, type Module, type Tensor } from "@tessera/tensor";
import { sqnr } from "./diagnostics";
import { fail } from "./errors";
import { describe, type QuantFormat } from "./formats/types";
import { QuantizedLinearWeight, quantizedLinear } from "./linear";
import { quantize } from "./quantized-tensor";

export interface QuantizeRecipe {
  format: QuantFormat;
  /** Layer names to quantize (default: all Linear layers). */
  include?: RegExp;
  exclude?: RegExp;
}

export interface LayerReport {
  name: string;
  format: string;
  bytesBefore: number;
  bytesAfter: number;
  /** 10 log10(|W|^2 / |W - W^|^2) in dB. */
  sqnr: number;
  fused: boolean;
}

export function quantizeModule(module: Module, recipe: QuantizeRecipe): LayerReport[] {
  const report: LayerReport[] = [];
  for (const [name, m] of module.namedModules()) {
    if (!(m instanceof Linear) || (recipe.include && !recipe.include.test(name)) || recipe.exclude?.test(name)) continue;
    if (Object.prototype.hasOwnProperty.call(m, "forward")) continue; // already quantized
    const weight = m.weight;
    const q = quantize(weight, recipe.format);
    const w = new QuantizedLinearWeight(q);
    const bias = m.bias;
    report.push({ name, format: describe(recipe.format), bytesBefore: weight.size * 4, bytesAfter: q.bytes, sqnr: sqnr(weight.dataSync(), q.values()), fused: w.fused });
    (m as unknown as { forward: (x: Tensor) => Tensor }).forward = (x: Tensor) => quantizedLinear(x, w, bias);
    (m as unknown as { removeParameter(n: string): Tensor }).removeParameter("weight").dispose();
  }
  if (!report.length) fail("quantizeModule", `no Linear layer matches${recipe.include ? ` ${recipe.include}` : ""}${recipe.exclude ? ` minus ${recipe.exclude}` : ""}`);
  return report;
}

/**
 * Rotary settings from a Llama-family config: transformers 5 writes `rope_parameters`
 * ({rope_theta, rope_type, factor, ...}); 4.x wrote `rope_theta` and `rope_scaling`.
 * Supported types: default, linear, dynamic, llama3 (yarn and longrope are rejected by name).
 */
import type { RopeOptions } from "@tessera/tensor";
import { fail } from "../errors";
import type { HFConfig } from "./config";

export function ropeFromConfig(c: HFConfig, maxPositions: number, headDim: number): RopeOptions {
  const params = (c.raw.rope_parameters ?? c.raw.rope_scaling ?? {}) as Record<string, unknown>;
  const base = Number(params.rope_theta ?? c.raw.rope_theta ?? 10000);
  if (!(Number.isFinite(base) && base > 0))
    fail("loadModel", `config.json (${c.modelType}) rope_theta must be a positive number, got ${JSON.stringify(params.rope_theta ?? c.raw.rope_theta)}`);
  const type = String(params.rope_type ?? params.type ?? "default");
  const num = (k: string, fallback?: number): number => {
    const v = params[k] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      fail("loadModel", `config.json (${c.modelType}) rope parameter '${k}' must be a number > 0, got ${JSON.stringify(params[k])}`);
    return v;
  };
  const partial = c.has("partial_rotary_factor") ? Math.round(headDim * c.num("partial_rotary_factor")) : headDim;
  const common = { base, pairing: "half" as const, rotaryDim: partial };
  switch (type) {
    case "default":
      return common;
    case "linear":
      return { ...common, scaling: { type: "linear", factor: num("factor") } };
    case "dynamic":
      return { ...common, scaling: { type: "dynamic", factor: num("factor"), maxPositions: maxPositions } };
    case "llama3":
      return {
        ...common,
        scaling: {
          type: "llama3",
          factor: num("factor"),
          lowFreqFactor: num("low_freq_factor"),
          highFreqFactor: num("high_freq_factor"),
          originalMaxPositions: num("original_max_position_embeddings"),
        },
      };
    default:
      return fail("loadModel", `config.json (${c.modelType}) rope type '${type}' is not supported (supported: default, linear, dynamic, llama3)`);
  }
}

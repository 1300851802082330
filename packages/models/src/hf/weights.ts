/**
 * Moving weights between a model and a Hugging Face state dict. Loading checks everything
 * before writing anything: each tensor the model needs must be present (under its Hugging Face
 * name) with the right shape, and every tensor in the file must be used, tied or known to be
 * ignorable. Errors name the tensor, the file's shape and the expected one.
 */
import { assign, cast, isFloat, tidy, toBackend, type Module, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import type { RawConfig } from "./config";
import type { NameMap } from "./names";

/** What a model needs to be saved as a Hugging Face checkpoint again. */
export interface HFInfo {
  modelType: string;
  /** The config.json it came from (or would be written as). */
  config: RawConfig;
  names: NameMap;
  /** Checkpoint names that may be present and are not used (buffers such as rotary inv_freq). */
  ignore?: readonly RegExp[];
  /** Checkpoint names that tied weights make redundant (e.g. lm_head.weight when tied). */
  tied?: readonly string[];
}

/** Checks and copies `weights` (Hugging Face names) into `model`; nothing is written on error. */
export function loadHFWeights(model: Module, info: HFInfo, weights: Record<string, Tensor>, source = "model.safetensors"): void {
  const op = `load ${info.modelType}`;
  const own = model.stateDict();
  const used = new Set<string>();
  const missing: string[] = [];
  for (const [name, t] of Object.entries(own)) {
    const key = info.names.toHF(name);
    const w = weights[key];
    if (!w) {
      missing.push(`'${key}' [${t.shape}]`);
      continue;
    }
    used.add(key);
    if (w.shape.length !== t.shape.length || w.shape.some((s, i) => s !== t.shape[i])) {
      fail(op, `${source}: tensor '${key}' has shape [${w.shape}] but the config implies [${t.shape}]`);
    }
    if (!isFloat(w.dtype)) fail(op, `${source}: tensor '${key}' has dtype ${w.dtype}; a float weight is expected`);
  }
  if (missing.length) fail(op, `${source} lacks ${missing.length} tensor(s): ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""}`);
  const unexpected = Object.keys(weights).filter((k) => !used.has(k) && !(info.tied ?? []).includes(k) && !(info.ignore ?? []).some((re) => re.test(k)));
  if (unexpected.length) {
    fail(
      op,
      `${source} has ${unexpected.length} tensor(s) this ${info.modelType} config does not use: ${unexpected
        .slice(0, 8)
        .map((k) => `'${k}' [${weights[k].shape}]`)
        .join(", ")}${unexpected.length > 8 ? ", ..." : ""} (a config/checkpoint mismatch?)`,
    );
  }
  for (const [name, t] of Object.entries(own)) {
    tidy(() => {
      const w = weights[info.names.toHF(name)];
      const v = w.dtype === t.dtype ? w : cast(w, t.dtype);
      assign(t, v.backend === t.backend ? v : toBackend(v, t.backend));
    });
  }
}

/** The model's parameters and buffers under Hugging Face names (tied weights once). */
export function hfStateDict(model: Module, info: HFInfo): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) out[info.names.toHF(name)] = t;
  return out;
}

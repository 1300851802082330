/**
 * `@tessera/models/node`: Hugging Face `save_pretrained` folders on disk.
 *  - loadPretrained(dir): config.json + model.safetensors, or the shards listed in
 *    model.safetensors.index.json;
 *  - savePretrained(dir, pretrained): the same layout, with Hugging Face tensor names, so
 *    `from_pretrained` in PyTorch loads it. Files are written to temporary names and renamed
 *    into place when complete.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Tensor } from "@tessera/tensor";
import { loadSafetensors, saveSafetensors } from "@tessera/tensor/node";
import { fail } from "./errors";
import type { BuildOptions } from "./hf/build-options";
import type { RawConfig } from "./hf/config";
import { fromPretrained, type Pretrained, type PretrainedFor, type PretrainedTask, type TaskOptions } from "./hf/registry";
import { hfStateDict } from "./hf/weights";
import { Projection } from "./nn/projection";

export { loadSafetensors, saveSafetensors };

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return fail("loadPretrained", `cannot read ${what} '${path}': ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) fail("loadPretrained", `${what} '${path}' is not a JSON object`);
    return v as Record<string, unknown>;
  } catch (e) {
    if ((e as Error).name === "TesseraError") throw e;
    return fail("loadPretrained", `${what} '${path}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** The config and every tensor of a save_pretrained folder (single file or sharded). */
export function readPretrainedFolder(dir: string): { config: RawConfig; weights: Record<string, Tensor>; files: string[] } {
  const config = readJson(join(dir, "config.json"), "config");
  const single = join(dir, "model.safetensors");
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(single)) return { config, weights: loadSafetensors(single).tensors, files: ["model.safetensors"] };
  if (!existsSync(index)) {
    const bin = existsSync(join(dir, "pytorch_model.bin")) ? " (pytorch_model.bin is a pickle: re-save it with safe_serialization=True)" : "";
    fail("loadPretrained", `'${dir}' has neither model.safetensors nor model.safetensors.index.json${bin}`);
  }
  const map = readJson(index, "shard index").weight_map as Record<string, string> | undefined;
  if (!map || typeof map !== "object") fail("loadPretrained", `shard index '${index}' has no weight_map`);
  const files = [...new Set(Object.values(map))].sort();
  const weights: Record<string, Tensor> = {};
  for (const f of files) {
    if (f.includes("/") || f.includes("\\")) fail("loadPretrained", `shard index names '${f}', outside the folder`);
    for (const [k, t] of Object.entries(loadSafetensors(join(dir, f)).tensors)) {
      if (map[k] !== f) fail("loadPretrained", `tensor '${k}' is in shard '${f}' but the index puts it in '${map[k] ?? "no shard"}'`);
      weights[k] = t;
    }
  }
  const lost = Object.keys(map).filter((k) => !weights[k]);
  if (lost.length) fail("loadPretrained", `shard index lists ${lost.length} tensor(s) no shard holds: ${lost.slice(0, 5).join(", ")}`);
  return { config, weights, files };
}

/**
 * Loads a Hugging Face save_pretrained folder: the architecture from config.json, checked
 * weights. The result is the `Pretrained` union (switch on `task`); with `{ task }` it is typed
 * for that task, and loading fails when the folder holds a model for another one.
 */
export function loadPretrained<T extends PretrainedTask>(dir: string, opts: TaskOptions<T>): PretrainedFor<T>;
export function loadPretrained(dir: string, opts?: BuildOptions & { task?: PretrainedTask }): Pretrained;
export function loadPretrained(dir: string, opts: BuildOptions & { task?: PretrainedTask } = {}): Pretrained {
  const { config, weights, files } = readPretrainedFolder(dir);
  try {
    return fromPretrained(config, weights, { ...opts, source: files.length === 1 ? files[0] : `${files.length} shards` });
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

/** `loadPretrained(dir, { task: "causal-lm" })`: `model` is a CausalLM, ready for `model.generate(...)`. */
export function loadCausalLM(dir: string, opts: BuildOptions = {}): PretrainedFor<"causal-lm"> {
  return loadPretrained(dir, { ...opts, task: "causal-lm" });
}

export interface SaveOptions {
  /** Split into shards of at most this many bytes (with model.safetensors.index.json). */
  maxShardBytes?: number;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Writes config.json and the weights (Hugging Face names) into `dir`. */
export async function savePretrained(dir: string, p: Pick<Pretrained, "model" | "info">, opts: SaveOptions = {}): Promise<void> {
  const quantized = [...p.model.namedModules()].filter(([, m]) => m instanceof Projection && m.quantized).map(([n]) => n);
  if (quantized.length) fail("savePretrained", `${quantized.length} layer(s) are quantized (${quantized.slice(0, 3).join(", ")}${quantized.length > 3 ? ", ..." : ""}): Hugging Face checkpoints hold float weights; save before quantizing`);
  mkdirSync(dir, { recursive: true });
  const state = hfStateDict(p.model, p.info);
  const names = Object.keys(state).sort();
  const bytesOf = (t: Tensor) => t.size * 4;
  const shards: string[][] = [[]];
  let used = 0;
  for (const n of names) {
    const b = bytesOf(state[n]);
    if (opts.maxShardBytes && used > 0 && used + b > opts.maxShardBytes) {
      shards.push([]);
      used = 0;
    }
    shards[shards.length - 1].push(n);
    used += b;
  }
  const meta = { format: "pt" };
  rmSync(join(dir, "model.safetensors"), { force: true });
  rmSync(join(dir, "model.safetensors.index.json"), { force: true });
  if (shards.length === 1) {
    await saveSafetensors(join(dir, "model.safetensors"), state, meta);
  } else {
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < shards.length; s++) {
      const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
      await saveSafetensors(join(dir, file), Object.fromEntries(shards[s].map((n) => [n, state[n]])), meta);
      for (const n of shards[s]) weightMap[n] = file;
    }
    const total = names.reduce((a, n) => a + bytesOf(state[n]), 0);
    writeAtomic(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  }
  writeAtomic(join(dir, "config.json"), JSON.stringify(p.info.config, null, 2));
}

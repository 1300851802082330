/**
 * `@tessera/models/node`: Hugging Face `save_pretrained` folders on disk.
 *  - loadPretrained(dir): config.json + model.safetensors, or the shards listed in
 *    model.safetensors.index.json;
 *  - savePretrained(dir, pretrained): the same layout, with Hugging Face tensor names, so
 *    `from_pretrained` in PyTorch loads it, as one transaction (a failure keeps the old files).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensorsAsync, type Tensor } from "@tessera/tensor";
import { loadSafetensors, saveSafetensors, writeFilesAtomic, type AtomicFs } from "@tessera/tensor/node";
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
  const map = readJson(index, "shard index").weight_map as Record<string, unknown> | undefined;
  if (!map || typeof map !== "object" || Array.isArray(map)) fail("loadPretrained", `shard index '${index}' has no weight_map object`);
  for (const [k, f] of Object.entries(map)) {
    if (typeof f !== "string") fail("loadPretrained", `shard index '${index}': weight_map['${k}'] must be a file name (string), got ${JSON.stringify(f)}`);
    if (f.includes("/") || f.includes("\\") || f === "" || f === "." || f === "..")
      fail("loadPretrained", `shard index names '${f}', outside the folder (weight_map['${k}'] in '${index}')`);
  }
  const shardOf = map as Record<string, string>;
  const files = [...new Set(Object.values(shardOf))].sort();
  const weights: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>; // names come from the file
  try {
    for (const f of files) {
      const shard = loadSafetensors(join(dir, f)).tensors;
      Object.assign(weights, shard); // owned by `weights` from here on (freed on failure)
      for (const k of Object.keys(shard)) {
        const listed = Object.hasOwn(shardOf, k) ? shardOf[k] : undefined;
        if (listed !== f) fail("loadPretrained", `tensor '${k}' is in shard '${f}' but the index puts it in '${listed ?? "no shard"}'`);
      }
    }
    const lost = Object.keys(shardOf).filter((k) => !Object.hasOwn(weights, k));
    if (lost.length) fail("loadPretrained", `shard index lists ${lost.length} tensor(s) no shard holds: ${lost.slice(0, 5).join(", ")}`);
  } catch (e) {
    for (const t of Object.values(weights)) t.dispose(); // shards read before the failure
    throw e;
  }
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
  /** Split into shards of at most this many bytes (with model.safetensors.index.json); a positive integer. */
  maxShardBytes?: number;
  /** The file system calls to write through (default node:fs; tests inject failures with it). */
  fs?: AtomicFs;
}

/** Weight files a save_pretrained folder may hold (replaced or removed by the next save). */
const CHECKPOINT_FILE = /^(model\.safetensors|model\.safetensors\.index\.json|model-\d{5}-of-\d{5}\.safetensors)$/;

/**
 * Writes config.json and the weights (Hugging Face names) into `dir`, as one transaction: every
 * file goes to a temporary name first and is renamed into place only when all are written; then
 * the weight files of the previous checkpoint that the new one does not use (a single file
 * replaced by shards, shards of another count) are removed. A failure at any step leaves the
 * previous checkpoint as it was, loadable.
 */
export async function savePretrained(dir: string, p: Pick<Pretrained, "model" | "info">, opts: SaveOptions = {}): Promise<void> {
  const max = opts.maxShardBytes;
  if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) fail("savePretrained", `maxShardBytes must be a positive integer (bytes), got ${max}`);
  const quantized = [...p.model.namedModules()].filter(([, m]) => m instanceof Projection && m.quantized).map(([n]) => n);
  if (quantized.length)
    fail(
      "savePretrained",
      `${quantized.length} layer(s) are quantized (${quantized.slice(0, 3).join(", ")}${quantized.length > 3 ? ", ..." : ""}): Hugging Face checkpoints hold float weights; save before quantizing`,
    );
  const gone = Object.entries(p.model.namedParameters())
    .filter(([, t]) => t.isDisposed)
    .map(([n]) => n);
  if (gone.length) fail("savePretrained", `${gone.length} parameter(s) were disposed (${gone.slice(0, 3).join(", ")}${gone.length > 3 ? ", ..." : ""}): nothing was written`);
  const state = hfStateDict(p.model, p.info);
  const names = Object.keys(state).sort();
  const bytesOf = (t: Tensor) => t.size * 4;
  const shards: string[][] = [[]];
  let used = 0;
  for (const n of names) {
    const b = bytesOf(state[n]);
    if (max && used > 0 && used + b > max) {
      shards.push([]);
      used = 0;
    }
    shards[shards.length - 1].push(n);
    used += b;
  }
  const meta = { format: "pt" };
  const files: Record<string, Uint8Array | string> = {};
  if (shards.length === 1) {
    files["model.safetensors"] = await writeSafetensorsAsync(state, meta);
  } else {
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < shards.length; s++) {
      const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
      files[file] = await writeSafetensorsAsync(Object.fromEntries(shards[s].map((n) => [n, state[n]])), meta);
      for (const n of shards[s]) weightMap[n] = file;
    }
    const total = names.reduce((a, n) => a + bytesOf(state[n]), 0);
    files["model.safetensors.index.json"] = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2);
  }
  files["config.json"] = JSON.stringify(p.info.config, null, 2);
  const stale = existsSync(dir) ? readdirSync(dir).filter((f) => CHECKPOINT_FILE.test(f) && !(f in files)) : [];
  writeFilesAtomic(dir, files, { remove: stale, createFolder: true, op: "savePretrained", fs: opts.fs });
}

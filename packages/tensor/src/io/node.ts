/**
 * Node.js file helpers (the `@tessera/tensor/node` entry point; browsers use the byte APIs).
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fail, keep, readSafetensors, writeSafetensorsAsync, type RawEntry, type ReadOptions, type Tensor } from "@tessera/tensor";
import { writeFilesAtomic, type AtomicFs } from "./atomic";

/** Loads a .safetensors file into tensors (the file is validated before any tensor is made). */
export function loadSafetensors(path: string, opts: ReadOptions = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    fail("loadSafetensors", `cannot read '${path}': ${(e as Error).message}`);
  }
  try {
    return readSafetensors(bytes, opts);
  } catch (e) {
    if ((e as Error).name === "TesseraError") (e as Error).message = `${(e as Error).message} [file ${path}]`;
    throw e;
  }
}

/**
 * Writes tensors to a .safetensors file atomically: to a temporary file first, renamed into
 * place when complete, so a failure never leaves a half-written file behind (the previous file,
 * if any, stays as it was).
 */
export async function saveSafetensors(path: string, items: Record<string, Tensor | RawEntry>, metadata: Record<string, string> = {}, opts: { fs?: AtomicFs } = {}): Promise<void> {
  const bytes = await writeSafetensorsAsync(items, metadata);
  writeFilesAtomic(dirname(path), { [basename(path)]: bytes }, { op: "saveSafetensors", fs: opts.fs });
}

/**
 * A reader of reference files under `root` (the fixtures of tests and tools): each .safetensors
 * file is read once and its tensors kept (outside every tidy scope) for the rest of the run;
 * a missing file is an error naming it and `hint` (how to get the files).
 *
 *   const fixture = fixtureFiles("fixtures", "run the generator scripts");
 *   const { q, k, v } = fixture("ops", "ops.safetensors");
 */
export function fixtureFiles(root: string, hint = ""): (...parts: string[]) => Record<string, Tensor> {
  const cache = new Map<string, Record<string, Tensor>>();
  return (...parts) => {
    const path = join(root, ...parts);
    let tensors = cache.get(path);
    if (!tensors) {
      if (!existsSync(path)) fail("fixtureFiles", `missing ${path}${hint ? `: ${hint}` : ""}`);
      tensors = loadSafetensors(path).tensors;
      for (const t of Object.values(tensors)) keep(t);
      cache.set(path, tensors);
    }
    return tensors;
  };
}

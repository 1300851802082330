import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keep, type Tensor } from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";

const here = dirname(fileURLToPath(import.meta.url));
/** ../shared beside the repository (override with TESSERA_SHARED). */
export const SHARED = process.env.TESSERA_SHARED ?? join(here, "..", "..", "..", "..", "shared");
export const HF = join(SHARED, "fixtures", "hf");
export const ARCHS = ["gpt2", "llama", "mamba", "mamba2", "bert", "vit"] as const;

export function hfDir(name: string): string {
  const d = join(HF, name);
  if (!existsSync(d)) throw new Error(`missing ${d}: the repository expects ../shared beside it (or set TESSERA_SHARED)`);
  return d;
}

const cache = new Map<string, Record<string, Tensor>>();
/** expected.safetensors of a fixture folder, loaded once and kept. */
export function expected(name: string): Record<string, Tensor> {
  if (!cache.has(name)) {
    const t = loadSafetensors(join(hfDir(name), "expected.safetensors")).tensors;
    for (const v of Object.values(t)) keep(v);
    cache.set(name, t);
  }
  return cache.get(name)!;
}

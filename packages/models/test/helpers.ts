import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "@tessera/tensor";
import { fixtureFiles } from "@tessera/tensor/node";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository's reference outputs (fixtures/ at the root; fixtures/README.md says how they were made). */
export const FIXTURES = join(here, "..", "..", "..", "fixtures");
export const HF = join(FIXTURES, "hf");
export const ARCHS = ["gpt2", "llama", "mamba", "mamba2", "bert", "vit"] as const;

export function hfDir(name: string): string {
  const d = join(HF, name);
  if (!existsSync(d)) throw new Error(`missing ${d}: fixtures/ at the repository root is incomplete (git checkout fixtures)`);
  return d;
}

const fixture = fixtureFiles(HF, "fixtures/ at the repository root is incomplete (git checkout fixtures)");
/** expected.safetensors of a fixture folder, loaded once and kept. */
export const expected = (name: string): Record<string, Tensor> => fixture(name, "expected.safetensors");

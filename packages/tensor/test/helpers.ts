import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "../src/index";
import { fixtureFiles } from "../src/io/node";

const here = dirname(fileURLToPath(import.meta.url));

/** The repository's reference outputs (fixtures/ at the root; fixtures/README.md says how they were made). */
export const FIXTURES = join(here, "..", "..", "..", "fixtures");

export function fixturePath(...parts: string[]): string {
  const p = join(FIXTURES, ...parts);
  if (!existsSync(p)) throw new Error(`missing fixture ${p}: fixtures/ at the repository root is incomplete (git checkout fixtures)`);
  return p;
}

const local = fixtureFiles(join(here, "fixtures"), "run test/fixtures/gen_refs.py");

/** NumPy/SciPy reference arrays (test/fixtures/gen_refs.py). Kept for the whole run. */
export const refs = (): Record<string, Tensor> => local("refs.safetensors");

export function ref(name: string): Tensor {
  const t = refs()[name];
  if (!t) throw new Error(`no reference array '${name}' in test/fixtures/refs.safetensors`);
  return t;
}

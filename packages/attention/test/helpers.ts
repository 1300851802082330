import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keep, type Tensor } from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = join(here, "..", "..", "..", "fixtures");

let ops: Record<string, Tensor> | null = null;

/** fixtures/ops/ops.safetensors (PyTorch 2.11 references; see generate/ops.py). */
export function opsFixture(): Record<string, Tensor> {
  if (!ops) {
    const p = join(FIXTURES, "ops", "ops.safetensors");
    if (!existsSync(p)) throw new Error(`missing ${p}: fixtures/ at the repository root is incomplete (git checkout fixtures)`);
    ops = loadSafetensors(p).tensors;
    for (const t of Object.values(ops)) keep(t);
  }
  return ops;
}

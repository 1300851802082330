import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keep, type Tensor } from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";

const here = dirname(fileURLToPath(import.meta.url));
export const SHARED = process.env.TESSERA_SHARED ?? join(here, "..", "..", "..", "..", "shared");
let ops: Record<string, Tensor> | null = null;

/** ../shared/fixtures/ops/ops.safetensors (PyTorch references), loaded once. */
export function opsFixture(): Record<string, Tensor> {
  if (!ops) {
    const p = join(SHARED, "fixtures", "ops", "ops.safetensors");
    if (!existsSync(p)) throw new Error(`missing ${p}: the repository expects ../shared beside it (or set TESSERA_SHARED)`);
    ops = loadSafetensors(p).tensors;
    for (const t of Object.values(ops)) keep(t);
  }
  return ops;
}

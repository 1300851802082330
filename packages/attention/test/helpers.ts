import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "@tessera/tensor";
import { fixtureFiles } from "@tessera/tensor/node";

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = join(here, "..", "..", "..", "fixtures");
const fixture = fixtureFiles(FIXTURES, "fixtures/ at the repository root is incomplete (git checkout fixtures)");

/** fixtures/ops/ops.safetensors (PyTorch 2.11 references; see fixtures/generate/ops.py). */
export const opsFixture = (): Record<string, Tensor> => fixture("ops", "ops.safetensors");

/** fixtures/ops/attention.safetensors (PyTorch 2.13 float64 autograd: forward and gradients; see fixtures/generate/attention.py). */
export const attentionFixture = (): Record<string, Tensor> => fixture("ops", "attention.safetensors");

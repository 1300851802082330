/** Initialization helpers (Hugging Face's `_init_weights`: N(0, initializer_range) for matrices). */
import { assign, normal, type Generator, type Tensor } from "@tessera/tensor";

/** Overwrites t with N(0, std) samples (the sample tensor is freed). */
export function initNormal(t: Tensor, std: number, seed?: number | Generator): void {
  const sample = normal(t.shape, 0, std, { seed, backend: t.backend });
  try {
    assign(t, sample);
  } finally {
    sample.dispose();
  }
}

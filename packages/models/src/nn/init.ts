/** Initialization helpers (Hugging Face's `_init_weights`: N(0, initializer_range) for matrices). */
import { assign, normal, type Generator, type Tensor } from "@tessera/tensor";

/** Overwrites t with N(0, std) samples. */
export function initNormal(t: Tensor, std: number, seed?: number | Generator): void {
  assign(t, normal(t.shape, 0, std, { seed: typeof seed === "number" ? seed : seed, backend: t.backend }));
}

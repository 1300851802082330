/** Initialization helpers (Hugging Face's `_init_weights`: N(0, initializer_range) for matrices). */
import { assign, Generator, normal, type Tensor } from "@tessera/tensor";

/** Overwrites t with N(0, std) samples (the sample tensor is freed). */
export function initNormal(t: Tensor, std: number, seed?: number | Generator): void {
  const sample = normal(t.shape, 0, std, { seed, backend: t.backend });
  try {
    assign(t, sample);
  } finally {
    sample.dispose();
  }
}

/**
 * The one random stream a whole construction draws from: a numeric seed starts a Generator that
 * every part then takes its turn of; a Generator (or undefined: the default stream) is used as is.
 * Handing the number itself to each part would restart the stream in every part, giving every
 * layer of a model (and every projection of a layer) the same weights.
 */
export function initGenerator(seed: number | Generator | undefined): Generator | undefined {
  return typeof seed === "number" ? new Generator(seed) : seed;
}

/**
 * ALiBi (Press et al. 2022, "Train Short, Test Long") and sinusoidal positions (Vaswani et al.).
 */
import { tensor, type Tensor } from "@tessera/tensor";

/**
 * ALiBi head slopes: for n heads, a power of two, slope_i = 2^(-8 (i+1) / n). Otherwise the
 * slopes of the nearest lower power of two p, then every other slope of 2p (the paper's code).
 */
export function alibiSlopes(nHeads: number): number[] {
  const pow2 = (n: number) => {
    const start = 2 ** -(2 ** -(Math.log2(n) - 3));
    return Array.from({ length: n }, (_, i) => start * start ** i);
  };
  if (Number.isInteger(Math.log2(nHeads))) return pow2(nHeads);
  const p = 2 ** Math.floor(Math.log2(nHeads));
  return [
    ...pow2(p),
    ...pow2(2 * p)
      .filter((_, i) => i % 2 === 0)
      .slice(0, nHeads - p),
  ];
}

/** Sinusoidal table [T, d]: PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d)). */
export function sinusoidalPositions(T: number, d: number, opts: { base?: number; offset?: number; backend?: string } = {}): Tensor {
  const base = opts.base ?? 10000;
  const out = new Float64Array(T * d);
  for (let p = 0; p < T; p++) {
    for (let i = 0; i < d; i += 2) {
      const ang = (p + (opts.offset ?? 0)) / base ** (i / d);
      out[p * d + i] = Math.sin(ang);
      if (i + 1 < d) out[p * d + i + 1] = Math.cos(ang);
    }
  }
  return tensor(out, { shape: [T, d], dtype: "float32", backend: opts.backend });
}

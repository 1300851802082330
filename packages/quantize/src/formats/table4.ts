/**
 * bitsandbytes' 4-bit data types (Dettmers et al. 2023, QLoRA) and its 8-bit dynamic map:
 *  - NF4: 16 values at quantiles of N(0, 1), rescaled to [-1, 1] with an exact 0
 *    (bitsandbytes/functional.py, the values of its `_NF4_QUANT_TABLE`);
 *  - FP4: a 1-2-1 float (sign, 2 exponent bits, 1 mantissa bit), normalised to max 1, in
 *    bitsandbytes' code order (the low three bits index [0, 1/192, 2/3, 1, 1/3, 1/2, 1/6, 1/4],
 *    bit 3 is the sign);
 *  - the dynamic 8-bit map (`create_dynamic_map(signed=True)`, Dettmers 2016): exponent levels
 *    10^-6 .. 10^0 with linearly spaced fractions; used for double quantization of the NF4/FP4
 *    block scales.
 * Block-wise quantization: per block, absmax = max|x|; each x / absmax takes the nearest code
 * (ties to the lower index, as torch.argmin); x^ = code[q] * absmax.
 */
export const NF4_CODE = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534,
  0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

const FP4_MAGNITUDES = [0, 1 / 192, 2 / 3, 1, 1 / 3, 1 / 2, 1 / 6, 1 / 4];
export const FP4_CODE = Float32Array.from([...FP4_MAGNITUDES, ...FP4_MAGNITUDES.map((v) => -v)]);

/** torch.linspace(start, end, steps) in float32 (its two-sided formula, float32 arithmetic). */
function linspace(start: number, end: number, steps: number): Float32Array {
  const f = Math.fround;
  const [s0, e0] = [f(start), f(end)];
  const step = f(f(e0 - s0) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Float32Array.from({ length: steps }, (_, i) => (i < half ? f(s0 + f(step * i)) : f(e0 - f(step * (steps - 1 - i)))));
}

/** bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 sorted values. */
export function dynamicMap(): Float32Array {
  const data: number[] = [];
  const maxExp = 7;
  const nonSign = 7;
  for (let i = 0; i < maxExp; i++) {
    const items = 2 ** (i + nonSign - maxExp) + 1;
    const b = linspace(0.1, 1, items);
    const mag = 10 ** (-(maxExp - 1) + i);
    for (let j = 0; j + 1 < b.length; j++) {
      const mean = Math.fround(Math.fround(b[j] + b[j + 1]) / 2);
      data.push(Math.fround(Math.fround(mag) * mean), Math.fround(Math.fround(-mag) * mean));
    }
  }
  data.push(0, 1);
  return Float32Array.from(data.sort((a, b) => a - b));
}

/** Index of the code nearest to v (first of equals). */
export function nearest(code: Float32Array, v: number): number {
  let best = 0;
  let d = Math.abs(v - code[0]);
  for (let i = 1; i < code.length; i++) {
    const e = Math.abs(v - code[i]);
    if (e < d) {
      d = e;
      best = i;
    }
  }
  return best;
}

/** Block-wise absmax quantization to a code table: codes and per-block absmax. */
export function quantizeBlockwise(x: Float32Array, code: Float32Array, blockSize: number): { q: Int32Array; absmax: Float32Array } {
  const blocks = Math.ceil(x.length / blockSize);
  const absmax = new Float32Array(blocks);
  for (let i = 0; i < x.length; i++) {
    const b = Math.floor(i / blockSize);
    absmax[b] = Math.max(absmax[b], Math.abs(x[i]));
  }
  const q = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const a = absmax[Math.floor(i / blockSize)];
    const scaled = a > 0 ? Math.max(-1, Math.min(1, Math.fround(x[i] / a))) : 0;
    q[i] = nearest(code, scaled);
  }
  return { q, absmax };
}

export function dequantizeBlockwise(q: Int32Array, code: Float32Array, absmax: Float32Array, blockSize: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = Math.fround(code[q[i]] * absmax[Math.floor(i / blockSize)]);
  return out;
}

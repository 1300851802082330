/**
 * 8-bit floats (OCP FP8, Micikevicius et al. 2022), as torch.float8_e4m3fn and float8_e5m2:
 *  - e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, NaN = S.1111.111,
 *    max 448, min subnormal 2^-9;
 *  - e5m2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; IEEE-like with infinities, max 57344.
 * Encoding rounds to nearest even. Out-of-range values saturate to the largest finite value
 * (`saturate`, what a scaled quantizer wants) or become NaN (e4m3fn) / infinity (e5m2) as a plain
 * PyTorch cast does.
 */
export type Fp8Variant = "e4m3" | "e5m2";

interface Spec {
  exp: number;
  man: number;
  bias: number;
  max: number;
  ieee: boolean;
}
const SPECS: Record<Fp8Variant, Spec> = {
  e4m3: { exp: 4, man: 3, bias: 7, max: 448, ieee: false },
  e5m2: { exp: 5, man: 2, bias: 15, max: 57344, ieee: true },
};

export const FP8_MAX: Record<Fp8Variant, number> = { e4m3: 448, e5m2: 57344 };

/** The value of an 8-bit code. */
export function fp8Decode(byte: number, variant: Fp8Variant): number {
  const s = SPECS[variant];
  const sign = byte & 0x80 ? -1 : 1;
  const e = (byte >> s.man) & ((1 << s.exp) - 1);
  const m = byte & ((1 << s.man) - 1);
  const allOnes = (1 << s.exp) - 1;
  if (s.ieee && e === allOnes) return m ? Number.NaN : sign * Infinity;
  if (!s.ieee && e === allOnes && m === (1 << s.man) - 1) return Number.NaN;
  if (e === 0) return sign * m * 2 ** (1 - s.bias - s.man);
  return sign * (1 + m / (1 << s.man)) * 2 ** (e - s.bias);
}

/** Sorted non-negative finite values and their codes, built once per variant. */
const tables = new Map<Fp8Variant, { values: Float64Array; codes: Uint8Array }>();
function table(variant: Fp8Variant) {
  let t = tables.get(variant);
  if (!t) {
    const pairs: [number, number][] = [];
    for (let c = 0; c < 0x80; c++) {
      const v = fp8Decode(c, variant);
      if (Number.isFinite(v)) pairs.push([v, c]);
    }
    pairs.sort((a, b) => a[0] - b[0]);
    t = { values: Float64Array.from(pairs, (p) => p[0]), codes: Uint8Array.from(pairs, (p) => p[1]) };
    tables.set(variant, t);
  }
  return t;
}

/** The code of v, rounding to nearest even (ties to the code with an even mantissa). */
export function fp8Encode(v: number, variant: Fp8Variant, saturate = true): number {
  const s = SPECS[variant];
  if (Number.isNaN(v)) return s.ieee ? 0x7f : 0x7f;
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.abs(v);
  const { values, codes } = table(variant);
  const top = values[values.length - 1];
  if (a > top) {
    // Beyond the largest finite value: round-to-nearest-even would still give max up to the
    // midpoint to the next (absent) step; a plain cast overflows there.
    const step = top - values[values.length - 2];
    if (saturate || a < top + step / 2) return sign | codes[codes.length - 1];
    return s.ieee ? sign | 0x7c : sign | 0x7f;
  }
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - values[lo];
  const dh = values[hi] - a;
  const pick = dl < dh ? lo : dh < dl ? hi : (codes[lo] & 1) === 0 ? lo : hi;
  return sign | codes[pick];
}

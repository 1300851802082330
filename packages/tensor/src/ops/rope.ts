/**
 * Rotary position embeddings (Su et al. 2021, RoFormer), shared by attention, retention and
 * the models. Pairs of features are rotated by
 * position-dependent angles theta_p,i = p * inv_freq_i, inv_freq_i = base^(-2i/d), so
 * <R_m q, R_n k> depends on m - n only.
 *
 * Two pairings:
 *  - 'half' (Hugging Face Llama/NeoX `rotate_half`): feature i pairs with i + d/2;
 *    out = x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1), cos/sin = cat(f, f).
 *  - 'interleaved' (GPT-J, Meta's original Llama): features 2i and 2i+1 form a pair.
 * `rotaryDim` < head dim rotates only the first rotaryDim features (GPT-NeoX partial rotary).
 *
 * Scaling of the frequencies (as Hugging Face's rope_scaling):
 *  - linear: positions divided by `factor`;
 *  - dynamic (NTK-aware): base *= ((factor * L / maxPositions) - (factor - 1))^(d / (d - 2)) once L > maxPositions;
 *  - llama3: wavelengths longer than original/lowFreqFactor are divided by factor, shorter than
 *    original/highFreqFactor kept, smoothly interpolated between.
 */
import { fail } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { tensor } from "./creation";
import { add, mul, neg } from "./elementwise";
import { concat } from "./join";
import { narrow, reshape } from "./view";

export type RopeScaling =
  | { type: "linear"; factor: number }
  | { type: "dynamic"; factor: number; maxPositions: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface RopeOptions {
  /** Frequency base theta (default 10000). */
  base?: number;
  /** Features rotated (default: the whole head dim). */
  rotaryDim?: number;
  /** 'half' (Hugging Face rotate_half, default) or 'interleaved' (GPT-J). */
  pairing?: "half" | "interleaved";
  scaling?: RopeScaling | null;
  backend?: string;
}

/** Inverse frequencies (float64) for a rotary dim, with the scaling rule applied. */
export function ropeInvFreq(rotaryDim: number, opts: RopeOptions = {}, seqLen = 0): number[] {
  if (!Number.isInteger(rotaryDim) || rotaryDim < 2 || rotaryDim % 2 !== 0) fail("rope", `rotaryDim ${rotaryDim} must be a positive even integer`);
  let base = opts.base ?? 10000;
  const sc = opts.scaling;
  if (sc?.type === "dynamic" && seqLen > sc.maxPositions) {
    base *= ((sc.factor * seqLen) / sc.maxPositions - (sc.factor - 1)) ** (rotaryDim / (rotaryDim - 2));
  }
  const inv = Array.from({ length: rotaryDim / 2 }, (_, i) => 1 / base ** ((2 * i) / rotaryDim));
  if (sc?.type === "linear") return inv.map((f) => f / sc.factor);
  if (sc?.type === "llama3") {
    const lowWavelen = sc.originalMaxPositions / sc.lowFreqFactor;
    const highWavelen = sc.originalMaxPositions / sc.highFreqFactor;
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / sc.factor;
      const smooth = (sc.originalMaxPositions / wavelen - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
      return (1 - smooth) * (f / sc.factor) + smooth * f;
    });
  }
  return inv;
}

/** cos and sin tables [T, rotaryDim] for positions offset .. offset + T - 1 (layout per pairing). */
export function ropeTables(T: number, rotaryDim: number, opts: RopeOptions = {}, offset = 0): { cos: Tensor; sin: Tensor } {
  const inv = ropeInvFreq(rotaryDim, opts, offset + T);
  const half = rotaryDim / 2;
  const c = new Float64Array(T * rotaryDim);
  const s = new Float64Array(T * rotaryDim);
  const interleaved = opts.pairing === "interleaved";
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      // Angles in float32 first, as PyTorch computes `t * inv_freq` in float32.
      const ang = Math.fround(Math.fround(t + offset) * Math.fround(inv[i]));
      const [a, b] = interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
      c[t * rotaryDim + a] = c[t * rotaryDim + b] = Math.cos(ang);
      s[t * rotaryDim + a] = s[t * rotaryDim + b] = Math.sin(ang);
    }
  }
  return { cos: tensor(c, { shape: [T, rotaryDim], dtype: "float32", backend: opts.backend }), sin: tensor(s, { shape: [T, rotaryDim], dtype: "float32", backend: opts.backend }) };
}

/** The pair partner of each feature, signed: rotate_half or the interleaved swap. */
function rotatePairs(x: Tensor, interleaved: boolean): Tensor {
  const d = x.shape[x.rank - 1];
  if (!interleaved) {
    const x1 = narrow(x, -1, 0, d / 2);
    const x2 = narrow(x, -1, d / 2, d / 2);
    return concat([neg(x2), x1], -1);
  }
  // [..., d/2, 2]: (x0, x1) -> (-x1, x0)
  const pairs = reshape(x, [...x.shape.slice(0, -1), d / 2, 2]);
  const even = narrow(pairs, -1, 0, 1);
  const odd = narrow(pairs, -1, 1, 1);
  return reshape(concat([neg(odd), even], -1), x.shape);
}

/**
 * Rotates x [..., T, Dh] with tables from ropeTables ([T, rotaryDim], broadcast over the
 * leading dims). Features past rotaryDim pass through.
 */
export function applyRope(x: Tensor, tables: { cos: Tensor; sin: Tensor }, opts: Pick<RopeOptions, "pairing"> = {}): Tensor {
  const d = x.shape[x.rank - 1];
  const r = tables.cos.shape[1];
  if (r > d || r % 2) fail("applyRope", `rotary dim ${r} must be even and at most the head dim ${d}`);
  const xr = r === d ? x : narrow(x, -1, 0, r);
  const rotated = add(mul(xr, tables.cos), mul(rotatePairs(xr, opts.pairing === "interleaved"), tables.sin));
  return r === d ? rotated : concat([rotated, narrow(x, -1, r, d - r)], -1);
}

/** Convenience: rope over positions offset.. for x [B, H, T, Dh]. */
export function rope(x: Tensor, opts: RopeOptions & { offset?: number } = {}): Tensor {
  const T = x.shape[x.rank - 2];
  const tables = ropeTables(T, opts.rotaryDim ?? x.shape[x.rank - 1], { ...opts, backend: opts.backend ?? x.backend }, opts.offset ?? 0);
  const y = applyRope(x, tables, opts);
  tables.cos.dispose();
  tables.sin.dispose();
  return y;
}

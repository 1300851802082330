/**
 * Quantization formats: what the codes mean and which elements share a scale.
 *
 * Granularity (which elements share one scale / zero point):
 *  - tensor: one for the whole tensor;
 *  - channel: one per index along `axis` (per output channel of a weight [out, in]: axis 0);
 *  - group: runs of `size` consecutive elements along `axis` (default the last, the reduction
 *    axis of a weight [out, in]); scales have the tensor's shape with that axis divided by size;
 *  - block: runs of `size` elements of the flattened tensor (bitsandbytes' block-wise scheme).
 */
export type Granularity = { kind: "tensor" } | { kind: "channel"; axis: number } | { kind: "group"; size: number; axis?: number } | { kind: "block"; size: number };

export type QuantFormat =
  /** Integers of `bits` bits: symmetric absmax (q in [-(2^(b-1)-1), 2^(b-1)-1]) or asymmetric with a zero point (q in [0, 2^b - 1]). */
  | { type: "int"; bits: 2 | 3 | 4 | 8; symmetric: boolean; granularity: Granularity }
  /** Ternary {-1, 0, +1} times an absmean scale (BitNet b1.58). */
  | { type: "ternary"; granularity: Granularity }
  /** 4-bit code tables of bitsandbytes (NF4: QLoRA's normal float; FP4), scaled by a block absmax, optionally double-quantized. */
  | { type: "nf4" | "fp4"; blockSize: number; doubleQuant: boolean }
  /** 8-bit floats (OCP FP8: e4m3fn without infinities, max 448; e5m2 IEEE-like, max 57344) times an absmax scale. */
  | { type: "fp8"; variant: "e4m3" | "e5m2"; granularity: Granularity };

export type Table4Format = Extract<QuantFormat, { blockSize: number }>;
export type ScaledFormat = Exclude<QuantFormat, Table4Format>;

/** NF4 / FP4 (block-wise, table codes) rather than a format with a granularity. */
export function isTable4(f: QuantFormat): f is Table4Format {
  return f.type === "nf4" || f.type === "fp4";
}

/** Bits per stored code. */
export function codeBits(f: QuantFormat): number {
  if (f.type === "int") return f.bits;
  if (f.type === "ternary") return 2;
  if (f.type === "fp8") return 8;
  return 4;
}

export function describe(f: QuantFormat): string {
  const g = (x: Granularity) =>
    x.kind === "tensor"
      ? "per tensor"
      : x.kind === "channel"
        ? `per channel (axis ${x.axis})`
        : x.kind === "group"
          ? `groups of ${x.size}${x.axis !== undefined ? ` along axis ${x.axis}` : ""}`
          : `blocks of ${x.size}`;
  if (f.type === "int") return `int${f.bits} ${f.symmetric ? "symmetric" : "asymmetric"} ${g(f.granularity)}`;
  if (f.type === "ternary") return `ternary ${g(f.granularity)}`;
  if (f.type === "fp8") return `fp8 ${f.variant} ${g(f.granularity)}`;
  return `${f.type} blocks of ${f.blockSize}${f.doubleQuant ? ", double-quantized scales" : ""}`;
}

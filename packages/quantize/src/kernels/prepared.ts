/**
 * A quantized weight W [N, K] (nn.Linear layout) prepared for the matrix-vector kernels: its
 * codes as the kernels read them, float32 scales per (row, group of G along K) with double
 * quantization undone, zero points, and for 4-bit formats the table of value pairs per byte.
 * Formats without a fused kernel (int2/int3, ternary, fp8, asymmetric int8, groups that do not
 * tile K) are marked `kind: "dequantize"` and run as x @ dequantize(W)^T.
 */
import { fail } from "../errors";
import { FP4_CODE, NF4_CODE } from "../formats/table4";
import { isTable4 } from "../formats/types";
import type { QuantizedTensor } from "../quantized-tensor";

export interface PreparedLinear {
  /** q8: int8 codes; u4: int4 codes widened arithmetically (zero points; symmetric = 8); q4: 4-bit codes through a value table. */
  kind: "q8" | "u4" | "q4" | "dequantize";
  N: number;
  K: number;
  /** Group length along K (one scale per row and group). */
  G: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Float32Array | null;
  /** 4-bit kinds: v(hi), v(lo) for each byte value, 512 floats (u4 uses it to dequantize). */
  table: Float32Array | null;
  source: QuantizedTensor;
  /** Stable identity for residency in the kernels' memory. */
  id: number;
}

let nextId = 1;

/** Group length along K of a [N, K] weight's format, or 0 when groups do not tile rows. */
function groupAlongK(q: QuantizedTensor, K: number): number {
  const f = q.format;
  if (isTable4(f)) return K % f.blockSize === 0 ? f.blockSize : 0;
  const g = f.granularity;
  if (g.kind === "channel") return g.axis === 0 || g.axis === -2 ? K : 0;
  if (g.kind === "group") return (g.axis ?? -1) === -1 || g.axis === 1 ? g.size : 0;
  if (g.kind === "block") return K % g.size === 0 ? g.size : 0;
  return 0; // per tensor: expand below
}

function pairTable(values: (u: number) => number): Float32Array {
  const t = new Float32Array(512);
  for (let b = 0; b < 256; b++) {
    t[2 * b] = values(b >> 4);
    t[2 * b + 1] = values(b & 15);
  }
  return t;
}

export function prepareLinear(q: QuantizedTensor): PreparedLinear {
  if (q.shape.length !== 2) fail("prepareLinear", `a linear weight must be [out, in], got [${q.shape}]`);
  const [N, K] = q.shape;
  const f = q.format;
  let G = groupAlongK(q, K);
  let scales = q.blockScales();
  if (!isTable4(f) && f.granularity.kind === "tensor") {
    G = K;
    scales = new Float32Array(N).fill(scales[0]);
  }
  const base = { N, K, G, source: q, id: nextId++ };
  const fallback: PreparedLinear = { ...base, kind: "dequantize", codes: q.data, scales, zeros: q.zeros, table: null };
  if (!G) return fallback;
  if (f.type === "int" && f.bits === 8 && f.symmetric && G % 16 === 0) return { ...base, kind: "q8", codes: q.data, scales, zeros: null, table: null };
  if (G % 8 !== 0) return fallback;
  if (f.type === "nf4" || f.type === "fp4") {
    const code = f.type === "nf4" ? NF4_CODE : FP4_CODE;
    return { ...base, kind: "q4", codes: q.data, scales, zeros: null, table: pairTable((u) => code[u]) };
  }
  if (f.type === "int" && f.bits === 4) {
    // Symmetric codes are offset binary (u = q + 8): the same as a zero point of 8.
    const zeros = f.symmetric ? new Float32Array(scales.length).fill(8) : q.zeros;
    if (G % 32 === 0) return { ...base, kind: "u4", codes: q.data, scales, zeros, table: pairTable((u) => u) };
    return { ...base, kind: "q4", codes: q.data, scales, zeros, table: pairTable((u) => u) };
  }
  return fallback;
}

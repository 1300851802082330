/**
 * Weight-only quantized projections as ONNX Runtime's contrib operator `com.microsoft.MatMulNBits`
 * (onnxruntime/core/graph/contrib_ops/contrib_defs.cc, docs/ContribOperators.md):
 *
 *   Y = A @ dequant(B)^T,  dequant(B)[n, k] = (code[n, k] - zero_point[n, k / block_size]) * scale[n, k / block_size]
 *
 * with B uint8 [N, n_blocks, blob_size] (n_blocks = ceil(K / block_size), blob_size =
 * block_size * bits / 8; codes packed low bits first: for 4 bits element 0 is the LOW nibble),
 * scales [N * n_blocks], optional zero_points (uint8 packed the same way, one row of
 * ceil(n_blocks * bits / 8) bytes per output, or float [N * n_blocks]); without them the zero
 * point is 2^(bits - 1). block_size is a power of two >= 16.
 *
 * From @tessera/quantize's QuantizedTensor [out = N, in = K] (quantized-tensor.ts):
 *  - symmetric int b (b = 2, 4, 8) stores q + 2^(b-1) and means q s: the default zero point;
 *  - ternary stores q + 1 in 2 bits and means q s: 2-bit codes q + 2 with the default zero point;
 *  - asymmetric int b means (q - z) s: zero points packed as uint b where they fit in [0, 2^b - 1]
 *    (min <= 0 <= max in every group), the same weights exactly; float zero points otherwise, which
 *    ONNX Runtime's cpu kernel applies as fl(q s) - fl(z s): within one rounding of Tessera's fl((q - z) s).
 * Tessera's codes are packed high bits first (pack.ts), so they are repacked, not copied.
 * A group must map onto whole MatMulNBits blocks: groups of a power of two >= 16 along the input
 * axis (block_size = the group size), one scale per output channel (axis 0) or per tensor
 * (block_size = K rounded up to a power of two, the tail padded with code zero).
 */
import { groupLayout, type QuantizedTensor } from "@tessera/quantize";
import { fail } from "./errors";

export interface NBitsWeight {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
  /** [N, nBlocks, blobSize] */
  B: Uint8Array;
  nBlocks: number;
  blobSize: number;
  /** [N * nBlocks] */
  scales: Float32Array;
  /** Packed uint b zero points [N * ceil(nBlocks * bits / 8)], float ones [N * nBlocks], or none (2^(bits-1)). */
  zeroPoints: { kind: "packed"; data: Uint8Array } | { kind: "float"; data: Float32Array } | null;
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(n));

/** Bits and the offset that turns Tessera's signed codes into MatMulNBits' unsigned ones (null: asymmetric). */
function bitsOf(q: QuantizedTensor, layer: string, op: string): { bits: number; offset: number | null } {
  const f = q.format;
  if (f.type === "ternary") return { bits: 2, offset: 2 };
  if (f.type === "int") {
    if (f.bits === 3) fail(op, `layer '${layer}' is int3, which MatMulNBits does not store (2, 4 or 8 bits)`);
    return { bits: f.bits, offset: f.symmetric ? 2 ** (f.bits - 1) : null };
  }
  return fail(op, `layer '${layer}' is ${f.type}${f.type === "fp8" ? ` ${f.variant}` : ""}, which has no MatMulNBits form (exported: int2/4/8 symmetric or asymmetric, ternary)`);
}

function blockSizeOf(q: QuantizedTensor, layer: string, op: string): number {
  const f = q.format as Extract<QuantizedTensor["format"], { granularity: unknown }>;
  const g = f.granularity;
  const K = q.shape[1];
  if (g.kind === "tensor" || (g.kind === "channel" && (g.axis === 0 || g.axis === -2))) return Math.max(16, nextPow2(K));
  if (g.kind === "group" && (g.axis === undefined || g.axis === 1 || g.axis === -1)) {
    if (g.size < 16 || nextPow2(g.size) !== g.size) fail(op, `layer '${layer}': groups of ${g.size} are not a MatMulNBits block size (a power of two >= 16)`);
    return g.size;
  }
  const what = g.kind === "block" ? `blocks of ${g.size} over the flattened weight` : `${g.kind}s along axis ${(g as { axis?: number }).axis}`;
  return fail(op, `layer '${layer}': ${what} do not map onto MatMulNBits blocks (per output channel, per tensor, or groups along the input axis)`);
}

/** Writes `code` (< 2^bits) at element `i` of a low-bits-first stream. */
function put(dst: Uint8Array, byteOffset: number, i: number, bits: number, code: number): void {
  const bit = i * bits;
  dst[byteOffset + (bit >> 3)] |= code << (bit & 7);
}

/** A quantized weight [N, K] (@tessera/quantize) as MatMulNBits' B, scales and zero points. */
export function toMatMulNBits(q: QuantizedTensor, layer: string, op = "exportOnnx"): NBitsWeight {
  if (q.shape.length !== 2) fail(op, `layer '${layer}': the quantized weight is [${q.shape}], not [out, in]`);
  const [N, K] = q.shape;
  const { bits, offset } = bitsOf(q, layer, op);
  const blockSize = blockSizeOf(q, layer, op);
  const nBlocks = Math.ceil(K / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const layout = groupLayout(op, q.shape, (q.format as { granularity: Parameters<typeof groupLayout>[2] }).granularity);
  // The Tessera group of each (n, block), checked to hold for every element of the block.
  const group = new Int32Array(N * nBlocks);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const gi = layout.index[n * K + k];
      const b = n * nBlocks + Math.floor(k / blockSize);
      if (k % blockSize === 0) group[b] = gi;
      else if (group[b] !== gi) fail(op, `layer '${layer}': a MatMulNBits block of ${blockSize} spans two quantization groups`);
    }
  }
  const codes = q.codes(); // signed for symmetric / ternary, [0, 2^b - 1] for asymmetric
  const B = new Uint8Array(N * nBlocks * blobSize);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) put(B, n * nBlocks * blobSize, k, bits, codes[n * K + k] + (offset ?? 0));
  const s = q.scales!;
  const scales = Float32Array.from(group, (gi) => s[gi]);
  let zeroPoints: NBitsWeight["zeroPoints"] = null;
  if (offset === null) {
    const z = Float32Array.from(group, (gi) => q.zeros![gi]);
    const max = 2 ** bits - 1;
    if (z.every((v) => Number.isInteger(v) && v >= 0 && v <= max)) {
      const row = Math.ceil((nBlocks * bits) / 8);
      const data = new Uint8Array(N * row);
      for (let n = 0; n < N; n++) for (let b = 0; b < nBlocks; b++) put(data, n * row, b, bits, z[n * nBlocks + b]);
      zeroPoints = { kind: "packed", data };
    } else zeroPoints = { kind: "float", data: z };
  }
  return { K, N, bits, blockSize, B, nBlocks, blobSize, scales, zeroPoints };
}

/**
 * The weight [N, K] that MatMulNBits computes with (its dequantization, in float32, as ONNX
 * Runtime's cpu kernel rounds it), e.g. to check an export.
 */
export function dequantizeNBits(w: NBitsWeight): Float32Array {
  const { N, K, bits, blockSize, nBlocks, blobSize } = w;
  const out = new Float32Array(N * K);
  const mask = (1 << bits) - 1;
  const get = (src: Uint8Array, byteOffset: number, i: number) => (src[byteOffset + ((i * bits) >> 3)] >> ((i * bits) & 7)) & mask;
  const row = Math.ceil((nBlocks * bits) / 8);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const code = get(w.B, n * nBlocks * blobSize, k);
      const scale = w.scales[n * nBlocks + b];
      if (w.zeroPoints?.kind === "float") {
        out[n * K + k] = Math.fround(Math.fround(code * scale) - Math.fround(w.zeroPoints.data[n * nBlocks + b] * scale));
        continue;
      }
      const zp = w.zeroPoints ? get(w.zeroPoints.data, n * row, b) : 2 ** (bits - 1);
      out[n * K + k] = Math.fround((code - zp) * scale);
    }
  }
  return out;
}

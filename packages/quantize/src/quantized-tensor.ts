/**
 * QuantizedTensor: packed codes + scales (+ zero points) + the format that says what they mean.
 * `quantize(x, format)` makes one, `dequantize()` gives a float32 tensor back. Stored code per
 * format (before bit packing, pack.ts):
 *
 * | format | code | value |
 * | --- | --- | --- |
 * | int8 symmetric | q as a two's-complement byte | q s |
 * | int2/3/4 symmetric | q + 2^(b-1) (offset binary) | q s |
 * | int asymmetric | q in [0, 2^b - 1] | (q - z) s |
 * | ternary | q + 1 in {0, 1, 2} (2 bits) | q s |
 * | nf4 / fp4 | index into the 16-entry table | table[q] * absmax |
 * | fp8 e4m3 / e5m2 | the fp8 bit pattern | fp8(q) * s |
 */
import { tensor, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { dequantizeInt, quantizeInt, quantizeTernary } from "./formats/int";
import { fp8Decode, fp8Encode, FP8_MAX } from "./formats/fp8";
import { groupLayout, type GroupLayout } from "./formats/groups";
import { dequantizeBlockwise, dynamicMap, FP4_CODE, NF4_CODE, quantizeBlockwise } from "./formats/table4";
import { codeBits, describe, isTable4, type QuantFormat } from "./formats/types";
import { pack, unpack } from "./pack";

/** Double quantization of block scales (QLoRA): absmax - offset, 8-bit dynamic codes per 256 blocks. */
export interface DoubleQuant {
  codes: Uint8Array;
  absmax2: Float32Array;
  offset: number;
  blockSize: number;
}

export const DOUBLE_QUANT_BLOCK = 256;

export class QuantizedTensor {
  constructor(
    readonly shape: readonly number[],
    readonly format: QuantFormat,
    /** Packed codes (pack.ts order). */
    readonly data: Uint8Array,
    /** Scales (block absmax for nf4/fp4), or null when double-quantized. */
    readonly scales: Float32Array | null,
    readonly scaleShape: readonly number[],
    readonly zeros: Float32Array | null = null,
    readonly doubleQuant: DoubleQuant | null = null,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes stored: codes, scales, zero points and double-quantization state. */
  get bytes(): number {
    const dq = this.doubleQuant ? this.doubleQuant.codes.length + this.doubleQuant.absmax2.length * 4 + 4 : 0;
    return this.data.length + (this.scales?.length ?? 0) * 4 + (this.zeros?.length ?? 0) * 4 + dq;
  }

  /** Bits per element including scales. */
  get bitsPerElement(): number {
    return (this.bytes * 8) / this.size;
  }

  toString(): string {
    return `QuantizedTensor([${this.shape}], ${describe(this.format)}, ${this.bitsPerElement.toFixed(2)} bits/element)`;
  }

  /** The scales, with double quantization undone. */
  blockScales(): Float32Array {
    if (this.scales) return this.scales;
    const dq = this.doubleQuant!;
    const code = dynamicMap();
    const out = new Float32Array(dq.codes.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(Math.fround(code[dq.codes[i]] * dq.absmax2[Math.floor(i / dq.blockSize)]) + dq.offset);
    return out;
  }

  /** Integer codes per element (signed for symmetric int and ternary). */
  codes(): Int32Array {
    const f = this.format;
    const raw = unpack(this.data, this.size, codeBits(f));
    if (f.type === "int" && f.symmetric) {
      if (f.bits === 8) return raw.map((u) => (u >= 128 ? u - 256 : u));
      const off = 2 ** (f.bits - 1);
      return raw.map((u) => u - off);
    }
    if (f.type === "ternary") return raw.map((u) => u - 1);
    return raw;
  }

  /** The float32 values the codes stand for, as a Float32Array (row-major). */
  values(): Float32Array {
    const f = this.format;
    const q = this.codes();
    if (isTable4(f)) return dequantizeBlockwise(q, f.type === "nf4" ? NF4_CODE : FP4_CODE, this.blockScales(), f.blockSize);
    const g = groupLayout("dequantize", this.shape, f.granularity);
    if (f.type === "fp8") {
      const out = new Float32Array(q.length);
      for (let i = 0; i < q.length; i++) out[i] = Math.fround(fp8Decode(q[i], f.variant) * this.scales![g.index[i]]);
      return out;
    }
    return dequantizeInt({ q, scales: this.scales!, zeros: this.zeros }, g);
  }

  dequantize(opts: { backend?: string } = {}): Tensor {
    return tensor(this.values(), { shape: [...this.shape], dtype: "float32", backend: opts.backend });
  }
}

function checkFormat(f: QuantFormat): void {
  const op = "quantize";
  if (f.type === "int" && ![2, 3, 4, 8].includes(f.bits)) fail(op, `int bits must be 2, 3, 4 or 8, got ${f.bits}`);
  if ((f.type === "nf4" || f.type === "fp4") && !(Number.isInteger(f.blockSize) && f.blockSize >= 1)) fail(op, `blockSize must be a positive integer, got ${f.blockSize}`);
  if (f.type === "fp8" && f.variant !== "e4m3" && f.variant !== "e5m2") fail(op, `fp8 variant must be 'e4m3' or 'e5m2', got '${String(f.variant)}'`);
  if (!["int", "ternary", "nf4", "fp4", "fp8"].includes(f.type)) fail(op, `unknown format type '${String((f as { type: unknown }).type)}'`);
}

/** Quantizes a float tensor (read on the cpu) to `format`. */
export function quantize(x: Tensor, format: QuantFormat): QuantizedTensor {
  checkFormat(format);
  if (x.dtype !== "float32" && x.dtype !== "float16" && x.dtype !== "bfloat16") fail("quantize", `x must be a float tensor, got ${x.dtype} [${x.shape}]`);
  if (!x.canReadSync) fail("quantize", `x lives on '${x.backend}': move it to cpu first (await toBackendAsync(x, 'cpu'))`);
  const v = Float32Array.from(x.dataSync());
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) fail("quantize", `x [${x.shape}] has a non-finite value (${v[i]}) at flat index ${i}`);
  return quantizeValues(v, x.shape, format);
}

/** As quantize, from row-major float32 values. */
export function quantizeValues(v: Float32Array, shape: readonly number[], f: QuantFormat): QuantizedTensor {
  checkFormat(f);
  if (isTable4(f)) {
    const { q, absmax } = quantizeBlockwise(v, f.type === "nf4" ? NF4_CODE : FP4_CODE, f.blockSize);
    const data = pack(q, 4);
    if (!f.doubleQuant) return new QuantizedTensor(shape, f, data, absmax, [absmax.length]);
    return new QuantizedTensor(shape, f, data, null, [absmax.length], null, doubleQuantize(absmax));
  }
  const g: GroupLayout = groupLayout("quantize", shape, f.granularity);
  if (f.type === "fp8") {
    const absmax = new Float32Array(g.count);
    for (let i = 0; i < v.length; i++) absmax[g.index[i]] = Math.max(absmax[g.index[i]], Math.abs(v[i]));
    const scales = absmax.map((a) => (a > 0 ? Math.fround(a / FP8_MAX[f.variant]) : 1));
    const q = Uint8Array.from(v, (x, i) => fp8Encode(Math.fround(x / scales[g.index[i]]), f.variant, true));
    return new QuantizedTensor(shape, f, q, scales, g.scaleShape);
  }
  if (f.type === "ternary") {
    const c = quantizeTernary(v, g);
    return new QuantizedTensor(
      shape,
      f,
      pack(
        c.q.map((q) => q + 1),
        2,
      ),
      c.scales,
      g.scaleShape,
    );
  }
  const c = quantizeInt(v, g, f.bits, f.symmetric);
  let stored: Int32Array = c.q;
  if (f.symmetric) stored = f.bits === 8 ? c.q.map((q) => q & 0xff) : c.q.map((q) => q + 2 ** (f.bits - 1));
  return new QuantizedTensor(shape, f, pack(stored, f.bits), c.scales, g.scaleShape, c.zeros);
}

/** QLoRA's double quantization of block absmax values: subtract the mean, 8-bit dynamic codes per 256. */
function doubleQuantize(absmax: Float32Array): DoubleQuant {
  let sum = 0;
  for (const a of absmax) sum += a;
  const offset = Math.fround(sum / absmax.length);
  const centred = absmax.map((a) => Math.fround(a - offset));
  const { q, absmax: absmax2 } = quantizeBlockwise(centred, dynamicMap(), DOUBLE_QUANT_BLOCK);
  return { codes: Uint8Array.from(q), absmax2, offset, blockSize: DOUBLE_QUANT_BLOCK };
}

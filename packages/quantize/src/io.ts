/**
 * QuantizedTensors in safetensors files: for a tensor `name`, the entries `name.qcodes` (U8,
 * packed codes), `name.qscales` (F32), optionally `name.qzeros` (F32) and, when double-quantized,
 * `name.qscales.codes` (U8) and `name.qscales.absmax` (F32); the metadata key
 * `tessera.quant.name` holds the format as JSON ({format, shape, scaleShape, offset?}).
 * Reading validates everything before building a tensor and names what is wrong.
 */
import type { RawEntry } from "@tessera/tensor";
import { fail } from "./errors";
import { codeBits, type QuantFormat } from "./formats/types";
import { packedBytes } from "./pack";
import { DOUBLE_QUANT_BLOCK, QuantizedTensor } from "./quantized-tensor";

const KEY = "tessera.quant.";

/** Entries and metadata for writeSafetensors / saveSafetensors. */
export function quantizedEntries(name: string, q: QuantizedTensor): { entries: Record<string, RawEntry>; metadata: Record<string, string> } {
  const entries: Record<string, RawEntry> = { [`${name}.qcodes`]: { dtype: "U8", shape: [q.data.length], data: q.data } };
  if (q.scales) entries[`${name}.qscales`] = { dtype: "F32", shape: [...q.scaleShape], data: q.scales };
  if (q.zeros) entries[`${name}.qzeros`] = { dtype: "F32", shape: [...q.scaleShape], data: q.zeros };
  if (q.doubleQuant) {
    entries[`${name}.qscales.codes`] = { dtype: "U8", shape: [q.doubleQuant.codes.length], data: q.doubleQuant.codes };
    entries[`${name}.qscales.absmax`] = { dtype: "F32", shape: [q.doubleQuant.absmax2.length], data: q.doubleQuant.absmax2 };
  }
  const meta = { format: q.format, shape: q.shape, scaleShape: q.scaleShape, ...(q.doubleQuant ? { offset: q.doubleQuant.offset } : {}) };
  return { entries, metadata: { [`${KEY}${name}`]: JSON.stringify(meta) } };
}

/** Names of the quantized tensors a file's metadata declares. */
export function quantizedNames(metadata: Record<string, string>): string[] {
  return Object.keys(metadata)
    .filter((k) => k.startsWith(KEY))
    .map((k) => k.slice(KEY.length));
}

type Entry = { dtype: string; shape: readonly number[]; bytes: Uint8Array };

/** Rebuilds `name` from parsed entries (parseSafetensors) and the metadata. */
export function readQuantized(name: string, entries: Map<string, Entry>, metadata: Record<string, string>): QuantizedTensor {
  const op = `readQuantized '${name}'`;
  const raw = metadata[`${KEY}${name}`];
  if (!raw) fail(op, `the file's metadata has no '${KEY}${name}'`);
  let meta: { format: QuantFormat; shape: number[]; scaleShape: number[]; offset?: number };
  try {
    meta = JSON.parse(raw);
  } catch {
    return fail(op, `metadata '${KEY}${name}' is not JSON`);
  }
  if (!meta || !meta.format || !Array.isArray(meta.shape) || !Array.isArray(meta.scaleShape)) fail(op, "metadata lacks format, shape or scaleShape");
  const size = meta.shape.reduce((a, b) => a * b, 1);
  const need = (suffix: string, dtype: string): Entry => {
    const e = entries.get(`${name}${suffix}`);
    if (!e) fail(op, `missing entry '${name}${suffix}'`);
    if (e.dtype !== dtype) fail(op, `entry '${name}${suffix}' has dtype ${e.dtype}, expected ${dtype}`);
    return e;
  };
  const f32 = (e: Entry) => new Float32Array(e.bytes.slice().buffer);
  const codes = need(".qcodes", "U8");
  const wantBytes = packedBytes(size, codeBits(meta.format));
  if (codes.bytes.length !== wantBytes) fail(op, `'${name}.qcodes' has ${codes.bytes.length} bytes; [${meta.shape}] at ${codeBits(meta.format)} bits needs ${wantBytes}`);
  const nScales = meta.scaleShape.reduce((a, b) => a * b, 1);
  const dq = meta.format.type === "nf4" || meta.format.type === "fp4" ? meta.format.doubleQuant : false;
  let scales: Float32Array | null = null;
  let double = null;
  if (dq) {
    const c = need(".qscales.codes", "U8");
    const a = need(".qscales.absmax", "F32");
    if (c.bytes.length !== nScales || a.bytes.length / 4 !== Math.ceil(nScales / DOUBLE_QUANT_BLOCK) || typeof meta.offset !== "number")
      fail(op, "double-quantized scales do not match the scale shape");
    double = { codes: c.bytes.slice(), absmax2: f32(a), offset: meta.offset, blockSize: DOUBLE_QUANT_BLOCK };
  } else {
    const s = need(".qscales", "F32");
    if (s.bytes.length / 4 !== nScales) fail(op, `'${name}.qscales' holds ${s.bytes.length / 4} scales; scaleShape [${meta.scaleShape}] needs ${nScales}`);
    scales = f32(s);
  }
  const hasZeros = meta.format.type === "int" && !meta.format.symmetric;
  let zeros: Float32Array | null = null;
  if (hasZeros) {
    const z = need(".qzeros", "F32");
    if (z.bytes.length / 4 !== nScales) fail(op, `'${name}.qzeros' holds ${z.bytes.length / 4} values; ${nScales} expected`);
    zeros = f32(z);
  }
  return new QuantizedTensor(meta.shape, meta.format, codes.bytes.slice(), scales, meta.scaleShape, zeros, double);
}

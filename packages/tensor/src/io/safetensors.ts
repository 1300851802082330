/**
 * safetensors (https://github.com/huggingface/safetensors) read and write.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 *   { "__metadata__": {str: str}?, name: { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] } }
 * then the data buffer; offsets are relative to it. Validation follows the reference
 * implementation: offsets in range, entries tile the buffer with no gap or overlap, byte sizes
 * match dtype x shape. A malformed file is rejected with the reason, never half-loaded.
 */
import { type DType, type StorageArray } from "../core/dtype";
import { backendInstance } from "../core/engine";
import { fail } from "../core/errors";
import { sizeOf } from "../core/shape";
import type { Tensor } from "../core/tensor";
import { wrap } from "../ops/util";

export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const ITEM_SIZE: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** How each file dtype becomes a tensor dtype (F64/I64/I16 are narrowed, with checks). */
const TO_DTYPE: Record<SafetensorsDType, DType> = {
  F64: "float32",
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int32",
  I32: "int32",
  I16: "int32",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

const FROM_DTYPE: Record<DType, SafetensorsDType> = {
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int32: "I32",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** One entry of a file: raw little-endian bytes. */
export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsEntry>;
}

const OP = "safetensors";
/** Headers above this are rejected (the reference implementation's limit is 100 MB). */
const MAX_HEADER = 100_000_000;
/** Largest dimension, and largest element count (of the non-zero dimensions), a tensor may have here. */
export const MAX_ELEMENTS = 2 ** 31 - 1;
const F32_MAX = 3.4028234663852886e38;

/**
 * The top-level keys of a JSON object text, in order, duplicates included (JSON.parse keeps only
 * the last of a repeated key, which would let a file hide an entry). The text is valid JSON.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1 && c === "{";
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return keys;
}

/** Checks a shape from a file: dimensions and element count within what can be allocated here. */
function checkShape(where: string, name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(where, `entry '${name}' has an invalid shape ${JSON.stringify(shape)}`);
  let count = 1;
  for (const d of shape as number[]) {
    if (d > MAX_ELEMENTS) fail(where, `entry '${name}' shape [${shape.join(",")}] has a dimension ${d} above the ${MAX_ELEMENTS} limit`);
    if (d > 0) count *= d;
    if (count > MAX_ELEMENTS) fail(where, `entry '${name}' shape [${shape.join(",")}] has more than ${MAX_ELEMENTS} elements (in its non-zero dimensions)`);
  }
  return shape as number[];
}

/** Parses and validates a safetensors byte buffer; the entries view into `bytes` (no copy). */
export function parseSafetensors(input: Uint8Array, source = "buffer"): SafetensorsFile {
  const where = `${OP} (${source})`;
  // A plain Uint8Array view: Node's Buffer has a non-copying slice() that would alias the pool.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < 8) fail(where, `file is ${bytes.length} bytes: too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER) fail(where, `header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (8 + n > bytes.length) fail(where, `header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
    if (!text.startsWith("{")) fail(where, "header does not start with '{'");
    header = JSON.parse(text);
  } catch (e) {
    if ((e as Error).name === "TesseraError") throw e;
    fail(where, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail(where, "header must be a JSON object");
  const keys = topLevelKeys(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) fail(where, `header names '${k}' twice (an entry must appear once)`);
    seen.add(k);
  }
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const spans: { name: string; begin: number; end: number }[] = [];
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(where, "__metadata__ must be an object of strings");
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") fail(where, `__metadata__.${k} must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) fail(where, `entry '${name}' must be an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in ITEM_SIZE)) fail(where, `entry '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
    const shape = checkShape(where, name, e.shape);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((o) => !Number.isSafeInteger(o) || o < 0))
      fail(where, `entry '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    const [begin, end] = off as [number, number];
    if (begin > end || end > data.length) fail(where, `entry '${name}' data_offsets [${begin}, ${end}] lie outside the ${data.length}-byte data buffer`);
    const dtype = e.dtype as SafetensorsDType;
    const expected = sizeOf(shape) * ITEM_SIZE[dtype];
    if (end - begin !== expected) fail(where, `entry '${name}' holds ${end - begin} bytes but ${dtype} [${shape.join(",")}] needs ${expected}`);
    spans.push({ name, begin, end });
    entries.set(name, { dtype, shape, bytes: data.subarray(begin, end) });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const s of spans) {
    if (s.begin < pos) fail(where, `entry '${s.name}' overlaps the previous entry (starts at ${s.begin}, previous ends at ${pos})`);
    if (s.begin > pos) fail(where, `gap in the data buffer before entry '${s.name}' (bytes ${pos}..${s.begin})`);
    pos = s.end;
  }
  if (pos !== data.length) fail(where, `the data buffer has ${data.length - pos} trailing bytes no entry covers`);
  return { metadata, entries };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copies bytes into an aligned, native-endian typed array. */
function aligned<T>(bytes: Uint8Array, itemSize: number, make: (buf: ArrayBuffer) => T): T {
  const copy = new Uint8Array(bytes); // a copy with its own, aligned buffer
  if (!LITTLE_ENDIAN && itemSize > 1) {
    for (let i = 0; i < copy.length; i += itemSize) copy.subarray(i, i + itemSize).reverse();
  }
  return make(copy.buffer);
}

/** Decodes one entry to the storage of its tensor dtype (narrowing F64, I64, I16 with checks). */
export function decodeEntry(name: string, e: SafetensorsEntry): { dtype: DType; data: StorageArray } {
  const where = `${OP} '${name}'`;
  switch (e.dtype) {
    case "F32":
      return { dtype: "float32", data: aligned(e.bytes, 4, (b) => new Float32Array(b)) };
    case "F16":
      return { dtype: "float16", data: aligned(e.bytes, 2, (b) => new Uint16Array(b)) };
    case "BF16":
      return { dtype: "bfloat16", data: aligned(e.bytes, 2, (b) => new Uint16Array(b)) };
    case "I32":
      return { dtype: "int32", data: aligned(e.bytes, 4, (b) => new Int32Array(b)) };
    case "I8":
      return { dtype: "int8", data: new Int8Array(new Uint8Array(e.bytes).buffer) };
    case "U8":
      return { dtype: "uint8", data: new Uint8Array(e.bytes) };
    case "BOOL": {
      const d = new Uint8Array(e.bytes);
      for (const v of d) if (v > 1) fail(where, `BOOL entry holds the byte ${v} (only 0 and 1 are valid)`);
      return { dtype: "bool", data: d };
    }
    case "F64": {
      const src = aligned(e.bytes, 8, (b) => new Float64Array(b));
      for (let i = 0; i < src.length; i++) {
        // Values that round to +-inf in float32 (above FLT_MAX by more than half an ulp) are refused.
        const v = src[i];
        if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) fail(where, `F64 value ${v} at ${i} is outside the float32 range (|x| <= ${F32_MAX})`);
      }
      return { dtype: "float32", data: Float32Array.from(src) };
    }
    case "I16":
      return { dtype: "int32", data: Int32Array.from(aligned(e.bytes, 2, (b) => new Int16Array(b))) };
    case "I64": {
      const src = aligned(e.bytes, 8, (b) => new BigInt64Array(b));
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) fail(where, `I64 value ${v} at ${i} does not fit in int32`);
        out[i] = Number(v);
      }
      return { dtype: "int32", data: out };
    }
  }
}

export interface ReadOptions {
  backend?: string;
  /** Only these names (all by default); a missing name is an error. */
  names?: readonly string[];
}

/** Reads a safetensors buffer into tensors (validating everything before creating any). */
export function readSafetensors(bytes: Uint8Array, opts: ReadOptions = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const file = parseSafetensors(bytes);
  const names = opts.names ?? [...file.entries.keys()];
  for (const n of names) if (!file.entries.has(n)) fail(OP, `no tensor named '${n}' in the file`);
  const decoded = names.map((n) => [n, decodeEntry(n, file.entries.get(n)!)] as const);
  const be = backendInstance(opts.backend);
  const tensors: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>; // a tensor may be named '__proto__'
  for (const [n, d] of decoded) {
    const shape = file.entries.get(n)!.shape;
    tensors[n] = wrap(be, be.adopt ? be.adopt(d.data, d.dtype) : be.upload(d.data, d.dtype), shape, d.dtype);
  }
  return { tensors, metadata: file.metadata };
}

/** Raw typed data for dtypes tensors do not have (F64, I64, I16) or to write bytes as they are. */
export interface RawEntry {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: Float64Array | BigInt64Array | Int16Array | Float32Array | Int32Array | Int8Array | Uint8Array | Uint16Array;
}

function isRawEntry(x: unknown): x is RawEntry {
  return typeof x === "object" && x !== null && "dtype" in x && "data" in x && ArrayBuffer.isView((x as RawEntry).data);
}

/**
 * Serializes tensors (cpu, or read back with `await` first for GPU backends: see
 * `writeSafetensorsAsync`) and raw entries. Entries are written in name order.
 */
export function writeSafetensors(items: Record<string, Tensor | RawEntry>, metadata: Record<string, string> = {}): Uint8Array {
  const raw: [string, RawEntry][] = Object.entries(items).map(([n, t]) => [n, isRawEntry(t) ? t : toRaw(n, t, t.rawDataSync())]);
  return encode(raw, metadata);
}

export async function writeSafetensorsAsync(items: Record<string, Tensor | RawEntry>, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const raw: [string, RawEntry][] = [];
  for (const [n, t] of Object.entries(items)) raw.push([n, isRawEntry(t) ? t : toRaw(n, t, await t.rawData())]);
  return encode(raw, metadata);
}

function toRaw(name: string, t: Tensor, data: StorageArray): RawEntry {
  t.assertAlive(`${OP} '${name}'`);
  return { dtype: FROM_DTYPE[t.dtype], shape: t.shape, data };
}

function encode(items: [string, RawEntry][], metadata: Record<string, string>): Uint8Array {
  items.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = Object.create(null); // a tensor may be named '__proto__'
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") fail(OP, `metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, e] of items) {
    if (name === "__metadata__") fail(OP, "'__metadata__' is reserved and cannot name a tensor");
    if (!(e.dtype in ITEM_SIZE)) fail(OP, `entry '${name}' has unsupported dtype '${e.dtype}'`);
    const n = e.data.byteLength;
    const expected = sizeOf(e.shape) * ITEM_SIZE[e.dtype];
    if (n !== expected) fail(OP, `entry '${name}' has ${n} bytes of data but ${e.dtype} [${e.shape.join(",")}] needs ${expected}`);
    header[name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  const headerBytes0 = new TextEncoder().encode(json).length;
  json += " ".repeat((8 - ((8 + headerBytes0) % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let pos = 8 + hb.length;
  for (const [, e] of items) {
    const b = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    out.set(b, pos);
    if (!LITTLE_ENDIAN) {
      const size = ITEM_SIZE[e.dtype];
      for (let i = pos; i < pos + b.length; i += size) out.subarray(i, i + size).reverse();
    }
    pos += b.length;
  }
  return out;
}

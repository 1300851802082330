import { tensor, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";

/** Rows of integers: `number[][]` or a 2-D tensor (read on the host). */
export type IdsLike = Tensor | readonly (readonly number[])[];

export function isTensorLike(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "shape" in x && typeof (x as Tensor).dataSync === "function";
}

/** Reads a 2-D integer input into rows; names the function and argument on bad input. */
export function readRows(op: string, arg: string, x: IdsLike | undefined, rows?: number, cols?: number): number[][] {
  if (x === undefined || x === null) fail(op, `${arg} is required`);
  let out: number[][];
  if (isTensorLike(x)) {
    if (x.rank !== 2) fail(op, `${arg} must be 2-D [batch, length], got shape [${x.shape.join(",")}]`);
    const v = x.dataSync();
    const [b, t] = x.shape;
    out = [];
    for (let i = 0; i < b; i++) out.push(Array.from(v.subarray(i * t, (i + 1) * t), Number));
  } else {
    if (!Array.isArray(x) || x.some((r) => !Array.isArray(r))) fail(op, `${arg} must be a 2-D array [batch][length] or a 2-D tensor`);
    out = x.map((r) => r.map(Number));
    const t = out.length ? out[0].length : 0;
    if (out.some((r) => r.length !== t)) fail(op, `${arg} rows must all have the same length (pad them and pass attentionMask)`);
  }
  if (out.length === 0 || out[0].length === 0) fail(op, `${arg} must be non-empty`);
  if (rows !== undefined && (out.length !== rows || out[0].length !== cols)) {
    fail(op, `${arg} [${out.length},${out[0].length}] must match ids [${rows},${cols}]`);
  }
  return out;
}

/** Like readRows, but null/undefined entries allowed (as -1). */
export function readWordIds(op: string, x: Tensor | readonly (readonly (number | null | undefined)[])[], rows: number, cols: number): number[][] {
  if (isTensorLike(x)) return readRows(op, "wordIds", x, rows, cols);
  if (!Array.isArray(x) || x.length !== rows || x.some((r) => !Array.isArray(r) || r.length !== cols)) {
    fail(op, `wordIds must be [${rows}][${cols}] like ids (null or a negative number for tokens outside any word)`);
  }
  return (x as readonly (readonly (number | null | undefined)[])[]).map((r) => r.map((v) => (v === null || v === undefined ? -1 : Number(v))));
}

export function checkInt(op: string, arg: string, v: unknown, min: number, max = Infinity): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(op, `${arg} must be an integer in [${min}, ${max === Infinity ? "inf" : max}], got ${String(v)}`);
  }
  return v;
}

export function checkProb(op: string, arg: string, v: unknown, closedTop = true): number {
  const ok = typeof v === "number" && v >= 0 && (closedTop ? v <= 1 : v < 1);
  if (!ok) fail(op, `${arg} must lie in [0, 1${closedTop ? "]" : ")"}, got ${String(v)}`);
  return v as number;
}

/** Round half to even, as Python's round() / numpy's round / tf.round. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** An int32 tensor from rows. */
export function intTensor(rows: number[][], backend?: string): Tensor {
  const b = rows.length;
  const t = rows[0]?.length ?? 0;
  const flat = new Int32Array(b * t);
  for (let i = 0; i < b; i++) flat.set(rows[i], i * t);
  return tensor(flat, { shape: [b, t], dtype: "int32", backend });
}

export function flatTensor(values: ArrayLike<number>, shape: number[], dtype: "int32" | "float32", backend?: string): Tensor {
  const arr = dtype === "int32" ? Int32Array.from(values) : Float32Array.from(values);
  return tensor(arr, { shape, dtype, backend });
}

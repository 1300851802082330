/**
 * Helpers every op uses: turning arguments into tensors, checking backends and dtypes, wrapping
 * kernel output as a tensor, and broadcast views.
 */
import type { Backend, View } from "../backend/backend";
import { allocStorage, f32ToHalf, isDType, isHalf, scalarDType, type DType, type StorageArray } from "../core/dtype";
import { backendInstance } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { contiguousStrides, sizeOf } from "../core/shape";
import { Storage } from "../core/storage";
import { isTensor, Tensor, type NestedArray } from "../core/tensor";

export type TypedArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array;

/** Anything an op accepts where a tensor is expected. */
export type TensorLike = Tensor | number | boolean | NestedArray | TypedArray;

/** Wraps freshly computed backend storage as a contiguous tensor. */
export function wrap(backend: Backend, data: unknown, shape: readonly number[], dtype: DType): Tensor {
  const storage = new Storage(backend, data, dtype, sizeOf(shape));
  return new Tensor(storage, [...shape], contiguousStrides(shape), 0, dtype);
}

/** A view of `t` with the same storage: the basis of reshape/permute/slice/expand. */
export function viewOf(t: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  t.storage.retain();
  return new Tensor(t.storage, [...shape], [...strides], offset, t.dtype);
}

/** The backend shared by all tensors of one op call (error if they differ). */
export function backendOf(op: string, ...ts: (Tensor | null | undefined)[]): Backend {
  let b: Backend | null = null;
  for (const t of ts) {
    if (!t) continue;
    t.assertAlive(op);
    if (b && t.storage.backend !== b) {
      fail(op, `tensors live on different backends ('${b.name}' and '${t.storage.backend.name}'); move one with toBackend()`);
    }
    b = t.storage.backend;
  }
  return b ?? backendInstance();
}

/** Converts an argument to a tensor. Numbers take a "weak" dtype relative to `like`. */
export function asTensor(op: string, arg: string, x: TensorLike, like?: Tensor, dtype?: DType): Tensor {
  if (isTensor(x)) {
    x.assertAlive(op);
    return x;
  }
  if (typeof x === "number" || typeof x === "boolean") {
    const v = Number(x);
    const dt = dtype ?? (like ? scalarDType(v, like.dtype) : typeof x === "boolean" ? "bool" : "float32");
    return fromValues([v], [], dt, like ? like.storage.backend : backendInstance());
  }
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return tensorFrom(op, x as NestedArray | TypedArray, { dtype, backend: like?.backend });
  fail(op, `${arg} must be a Tensor, number or array, got ${x === null ? "null" : typeof x}`);
}

/** Builds a tensor from flat values on a backend, encoding half dtypes. */
export function fromValues(values: ArrayLike<number>, shape: readonly number[], dtype: DType, backend: Backend): Tensor {
  let storage: StorageArray;
  if (isHalf(dtype)) storage = f32ToHalf(dtype as "float16" | "bfloat16", values);
  else {
    storage = allocStorage(dtype, values.length);
    if (dtype === "bool") for (let i = 0; i < values.length; i++) storage[i] = values[i] ? 1 : 0;
    else storage.set(values as ArrayLike<number>);
  }
  // `storage` is this call's own copy: a backend that can take host storage as it is (cpu) adopts
  // it instead of copying it a second time.
  return wrap(backend, backend.adopt ? backend.adopt(storage, dtype) : backend.upload(storage, dtype), shape, dtype);
}

export interface TensorOptions {
  dtype?: DType;
  shape?: readonly number[];
  backend?: string;
}

function inferShape(op: string, x: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  // Check every nested array agrees (ragged input is an error, not a silent reshape).
  // Leaves must be numbers or booleans: "a", undefined or null would become NaN or 0 silently.
  const at: number[] = [];
  const check = (v: NestedArray, d: number): void => {
    if (d === shape.length) {
      if (Array.isArray(v)) fail(op, `ragged nested array: expected a number at depth ${d}`);
      if (typeof v !== "number" && typeof v !== "boolean") {
        const shown = typeof v === "string" ? `'${v}'` : v === null ? "null" : typeof v === "object" ? "an object" : String(v);
        fail(op, `values[${at.join("][")}] is ${shown} (${v === null ? "null" : typeof v}): tensor values must be numbers or booleans`);
      }
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[d]) fail(op, `ragged nested array: expected ${shape[d]} entries at depth ${d} for shape ${fmtShape(shape)}`);
    for (let i = 0; i < v.length; i++) {
      at.push(i);
      check(v[i], d + 1);
      at.pop();
    }
  };
  check(x, 0);
  return shape;
}

function defaultDType(x: NestedArray | TypedArray): DType {
  if (x instanceof Int32Array || x instanceof Int16Array || x instanceof Uint16Array) return "int32";
  if (x instanceof Int8Array) return "int8";
  if (x instanceof Uint8Array) return "uint8";
  if (!ArrayBuffer.isView(x)) {
    let v: NestedArray = x;
    while (Array.isArray(v) && v.length) v = v[0];
    if (typeof v === "boolean") return "bool";
  }
  return "float32";
}

/** `tensor()` without the public op name: shared by asTensor. */
export function tensorFrom(op: string, values: NestedArray | TypedArray, opts: TensorOptions = {}): Tensor {
  if (opts.dtype !== undefined && !isDType(opts.dtype)) fail(op, `unknown dtype '${String(opts.dtype)}'`);
  const dtype = opts.dtype ?? defaultDType(values);
  let flat: ArrayLike<number>;
  let shape: number[];
  if (ArrayBuffer.isView(values)) {
    flat = values as TypedArray;
    shape = opts.shape ? [...opts.shape] : [flat.length];
  } else if (typeof values === "number" || typeof values === "boolean") {
    flat = [Number(values)];
    shape = opts.shape ? [...opts.shape] : [];
  } else if (!Array.isArray(values)) {
    fail(op, `values must be a number, a boolean, a (nested) array of them or a typed array, got ${values === null ? "null" : typeof values}`);
  } else {
    const inferred = inferShape(op, values);
    flat = (values as NestedArray[]).flat(Infinity as 1).map(Number) as number[];
    shape = opts.shape ? [...opts.shape] : inferred;
  }
  if (sizeOf(shape) !== flat.length) fail(op, `shape ${fmtShape(shape)} holds ${sizeOf(shape)} values but ${flat.length} were given`);
  return fromValues(flat, shape, dtype, backendInstance(opts.backend));
}

/** The broadcast view of `t` at `shape` (stride 0 on expanded axes). Shapes must be compatible. */
export function broadcastView(t: Tensor, shape: readonly number[]): View {
  const lead = shape.length - t.rank;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j];
  });
  return { data: t.storage.data, dtype: t.dtype, shape, strides, offset: t.offset };
}

export function checkFloat(op: string, arg: string, t: Tensor): void {
  if (!(t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16")) {
    fail(op, `${arg} must be a float tensor, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
}

export function checkIntIndex(op: string, arg: string, t: Tensor): void {
  if (t.dtype !== "int32" && t.dtype !== "int8" && t.dtype !== "uint8") {
    fail(op, `${arg} must be an integer tensor (int32), got ${t.dtype} ${fmtShape(t.shape)}`);
  }
}

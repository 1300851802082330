/**
 * scijs ndarray interop. Views share memory where the layouts allow: ndarray strides are in
 * elements like ours, so a cpu tensor and an ndarray can view one typed array. Writes through
 * either side are visible to the other.
 */
import ndarrayFactory from "ndarray";
import { isHalf, type DataArray, type DType, type StorageArray } from "../core/dtype";
import { fail, fmtShape } from "../core/errors";
import { backendInstance } from "../core/engine";
import { Storage } from "../core/storage";
import { Tensor } from "../core/tensor";
import { wrap } from "../ops/util";
import { cast } from "../ops/convert";

/** An ndarray-like object (scijs ndarray or anything with data/shape/stride/offset). */
export interface NdArrayLike {
  data: ArrayLike<number>;
  shape: number[];
  stride: number[];
  offset: number;
  dtype?: string;
}

/**
 * The scijs ndarray that `toNdarray` returns, described structurally (the members scijs
 * documents), so the declarations need no `@types/ndarray`: a consumer compiles without it, and
 * one that has it can pass these to functions typed with its `NdArray` by `data` type.
 */
export interface NdArrayView<A extends DataArray = DataArray> {
  data: A;
  shape: number[];
  stride: number[];
  offset: number;
  readonly dtype: "float32" | "int32" | "int8" | "uint8";
  readonly size: number;
  readonly order: number[];
  readonly dimension: number;
  get(...indices: number[]): number;
  /** set(i, j, ..., value) */
  set(...indicesAndValue: number[]): number;
  index(...indices: number[]): number;
  lo(...indices: number[]): NdArrayView<A>;
  hi(...indices: number[]): NdArrayView<A>;
  step(...steps: number[]): NdArrayView<A>;
  transpose(...axes: number[]): NdArrayView<A>;
  pick(...indices: (number | null)[]): NdArrayView<A>;
}

/**
 * Tensor over an ndarray's memory (cpu backend). Zero-copy for Float32Array, Int32Array,
 * Int8Array and Uint8Array data with non-negative strides; other data (Float64Array, plain
 * arrays, negative strides) is copied and converted to float32 (or `dtype` if given).
 */
export function fromNdarray(nd: NdArrayLike, opts: { dtype?: DType } = {}): Tensor {
  if (!nd || !Array.isArray(nd.shape) || !Array.isArray(nd.stride)) fail("fromNdarray", "argument is not an ndarray (needs data, shape, stride, offset)");
  const be = backendInstance("cpu");
  const natural =
    nd.data instanceof Float32Array
      ? "float32"
      : nd.data instanceof Int32Array
        ? "int32"
        : nd.data instanceof Int8Array
          ? "int8"
          : nd.data instanceof Uint8Array
            ? "uint8"
            : undefined;
  const zeroCopy = natural !== undefined && nd.stride.every((s) => s >= 0) && (opts.dtype === undefined || opts.dtype === natural);
  if (zeroCopy) {
    const data = nd.data as StorageArray;
    const storage = new Storage(be, be.adopt!(data, natural, true), natural, data.length);
    return new Tensor(storage, [...nd.shape], [...nd.stride], nd.offset, natural);
  }
  // Copy in row-major order through the ndarray's own indexing.
  const size = nd.shape.reduce((a, b) => a * b, 1);
  const vals = new Float32Array(size);
  const idx = new Array<number>(nd.shape.length).fill(0);
  for (let i = 0; i < size; i++) {
    let off = nd.offset;
    for (let d = 0; d < idx.length; d++) off += idx[d] * nd.stride[d];
    vals[i] = nd.data[off];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < nd.shape[d]) break;
      idx[d] = 0;
    }
  }
  const t = wrap(be, vals, nd.shape, "float32");
  if (!opts.dtype || opts.dtype === "float32") return t;
  const c = cast(t, opts.dtype);
  t.dispose();
  return c;
}

/**
 * An ndarray over a cpu tensor's memory (zero-copy; float16/bfloat16 are widened into a new
 * Float32Array). Keep the tensor alive while the ndarray is in use.
 */
export function toNdarray(t: Tensor): NdArrayView {
  t.assertAlive("toNdarray");
  const be = t.storage.backend;
  if (!be.storageOf) fail("toNdarray", `tensor ${fmtShape(t.shape)} lives on '${be.name}': move it to cpu first (toBackendAsync)`);
  if (isHalf(t.dtype)) {
    const f = cast(t, "float32");
    const nd = ndarrayFactory(f.dataSync("float32"), [...t.shape]);
    f.dispose();
    return nd as unknown as NdArrayView;
  }
  if (t.dtype === "bool") return ndarrayFactory(t.dataSync("bool"), [...t.shape]) as unknown as NdArrayView;
  return ndarrayFactory(be.storageOf(t.storage.data) as DataArray, [...t.shape], [...t.strides], t.offset) as unknown as NdArrayView;
}

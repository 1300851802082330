import { isFloat } from "./dtype";
import { fail, fmtShape } from "./errors";
import type { Tensor } from "./tensor";

/**
 * A cpu float32 tensor's values, row-major, without a copy where the layout allows it: a view
 * (subarray) of its storage when it is contiguous float32, whatever its offset; otherwise a fresh
 * copy (`dataSync("float32")`: other layouts and dtypes, float16 widened). For kernels that copy
 * the values on at once (into WASM memory): the view aliases the tensor, so it must not be
 * written or kept past the synchronous call. Throws, naming this function, for integer and bool
 * dtypes and on backends that read asynchronously (GPU).
 */
export function float32Values(t: Tensor): Float32Array {
  t.assertAlive("float32Values");
  const data = t.storage.data;
  if (t.dtype === "float32" && data instanceof Float32Array && t.storage.backend.canReadSync && t.isContiguous) return data.subarray(t.offset, t.offset + t.size);
  if (!isFloat(t.dtype)) fail("float32Values", `tensor ${fmtShape(t.shape)} is ${t.dtype}, not a float dtype`);
  if (!t.canReadSync) fail("float32Values", `tensor ${fmtShape(t.shape)} lives on '${t.storage.backend.name}', which reads asynchronously: use await tensor.data("float32")`);
  return t.dataSync("float32");
}

/**
 * A cpu float32 tensor's values as `blocks` runs of `blockSize` contiguous values, run i at
 * `data[offset + i * stride ...]`, without a copy: for views that are contiguous over their
 * trailing `innerRank` dims and evenly strided over the leading ones, such as the first t rows of
 * a [B, H, capacity, D] key cache (`append`'s buffers; innerRank 2: blocks B * H of t * D values,
 * stride capacity * D). Null where the layout is not of that form, the dtype is not float32 or
 * the backend reads asynchronously: use float32Values then. Like float32Values' view it aliases
 * the tensor: read it at once, never write it.
 */
export function float32Blocks(t: Tensor, innerRank: number): { data: Float32Array; offset: number; stride: number; blocks: number; blockSize: number } | null {
  t.assertAlive("float32Blocks");
  const data = t.storage.data;
  if (t.dtype !== "float32" || !(data instanceof Float32Array) || !t.storage.backend.canReadSync) return null;
  if (!Number.isInteger(innerRank) || innerRank < 0 || innerRank > t.rank)
    fail("float32Blocks", `innerRank ${innerRank} must be an integer in [0, ${t.rank}] for tensor ${fmtShape(t.shape)}`);
  const lead = t.rank - innerRank;
  let blockSize = 1;
  for (let j = t.rank - 1; j >= lead; j--) {
    if (t.shape[j] > 1 && t.strides[j] !== blockSize) return null;
    blockSize *= t.shape[j];
  }
  // The leading dims must flatten to one stride: each (of size > 1) steps by the next one's span.
  let blocks = 1;
  let stride = blockSize;
  let expected = -1;
  for (let j = lead - 1; j >= 0; j--) {
    if (t.shape[j] === 1) continue;
    if (expected < 0) stride = t.strides[j];
    else if (t.strides[j] !== expected) return null;
    blocks *= t.shape[j];
    expected = t.strides[j] * t.shape[j];
  }
  return { data, offset: t.offset, stride, blocks, blockSize };
}

/**
 * A cpu float32 tensor's rows in place: its storage, offset and the strides of every dim but the
 * last, for views whose last dim is contiguous (stride 1, or size 1) and whose strides are not
 * negative, such as the heads of a fused qkv projection viewed as [B, H, T, D] or the first t rows
 * of an `append` key cache. Null otherwise (other dtypes, flipped views, backends that read
 * asynchronously): copy with float32Values then. The view aliases the tensor: read it at once.
 */
export function float32Rows(t: Tensor): { data: Float32Array; offset: number; strides: number[] } | null {
  t.assertAlive("float32Rows");
  const data = t.storage.data;
  if (t.dtype !== "float32" || !(data instanceof Float32Array) || !t.storage.backend.canReadSync || t.rank === 0) return null;
  if (t.shape[t.rank - 1] > 1 && t.strides[t.rank - 1] !== 1) return null;
  if (t.strides.some((s) => s < 0)) return null;
  return { data, offset: t.offset, strides: t.strides.slice(0, -1) };
}

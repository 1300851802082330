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

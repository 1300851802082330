/**
 * Dtype and backend conversions.
 */
import { isDType, type DType } from "../core/dtype";
import { backendInstance } from "../core/engine";
import { fail } from "../core/errors";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { backendOf, viewOf, wrap } from "./util";

/** Converts to `dtype` (float -> int truncates toward zero; anything -> bool is `!= 0`). */
export function cast(x: Tensor, dtype: DType): Tensor {
  const b = backendOf("cast", x);
  if (!isDType(dtype)) fail("cast", `unknown dtype '${String(dtype)}'`);
  const from = x.dtype;
  const y = from === dtype ? viewOf(x, x.shape, x.strides, x.offset) : wrap(b, b.copy(x.view(), dtype), x.shape, dtype);
  return record("cast", [x], y, (dy) => [cast(dy, from)]);
}

/** A contiguous copy with its own storage. */
export function clone(x: Tensor): Tensor {
  const b = backendOf("clone", x);
  return record("clone", [x], wrap(b, b.copy(x.view(), x.dtype), x.shape, x.dtype), (dy) => [dy]);
}

/**
 * Copies a tensor to another backend. Synchronous from cpu (upload); reading a GPU tensor back
 * is async, so moves from an async backend go through `toBackendAsync`.
 */
export function toBackend(x: Tensor, name: string): Tensor {
  const src = backendOf("toBackend", x);
  const dst = backendInstance(name);
  if (src === dst) return viewOf(x, x.shape, x.strides, x.offset);
  if (!src.canReadSync) fail("toBackend", `backend '${src.name}' reads asynchronously: use await toBackendAsync(x, '${name}')`);
  return wrap(dst, dst.upload(x.rawDataSync(), x.dtype), x.shape, x.dtype);
}

export async function toBackendAsync(x: Tensor, name: string): Promise<Tensor> {
  const src = backendOf("toBackend", x);
  const dst = backendInstance(name);
  if (src === dst) return viewOf(x, x.shape, x.strides, x.offset);
  return wrap(dst, dst.upload(await x.rawData(), x.dtype), x.shape, x.dtype);
}

/**
 * Index kernels on WebGPU: gather, indexSelect, scatterAdd. An out-of-range index raises the
 * context's error flag (the error is thrown at the next read) and reads/writes element 0
 * instead of memory it does not own. scatterAdd accumulates with atomics (a compare-exchange
 * loop for f32, which WGSL has no atomic add for).
 */

import { contiguousStrides, sizeOf } from "../../../core/shape";
import type { GpuContext, GpuData } from "../context";
import { offsetFn, shader, wordOf } from "../wgsl";
import { copy, type GpuView } from "./elementwise";

/** Checks an index against `size` (negative ones are out of range, as PyTorch), flagging `code` when out of range. */
const CHECK_INDEX = /* wgsl */ `
fn check_index(v: i32, size: u32, code: u32) -> u32 {
  if (v < 0 || u32(v) >= size) { atomicStore(&err[0], code); return 0u; }
  return u32(v);
}`;

const ERR_BINDING = { name: "err", word: "atomic<u32>" as const, write: true };

/** out[i] = x[..., index[i], ...] along axis, out shaped like index. */
export function gather(ctx: GpuContext, x: GpuView, axis: number, index: GpuView): GpuData {
  const n = sizeOf(index.shape);
  const rank = index.shape.length;
  const out = ctx.alloc(n);
  // [n, index dims, index strides, index offset, x strides, x offset, x axis size]
  const prm = [n, ...index.shape, ...index.strides, index.offset, ...x.strides, x.offset, x.shape[axis]];
  const xs0 = 2 + 2 * rank;
  const loop = [];
  for (let d = rank - 1; d >= 0; d--) {
    loop.push(
      `  { let s = prm[${1 + d}u]; let c = rem % s; rem = rem / s; ${d === axis ? `o += check_index(ix[off_i(i)], prm[${xs0 + rank + 1}u], 1u) * prm[${xs0 + d}u];` : `o += c * prm[${xs0 + d}u];`} }`,
    );
  }
  const w = wordOf(x.dtype);
  const code = shader({
    bindings: [{ name: "out", word: w, write: true }, { name: "xs", word: w }, { name: "ix", word: "i32" }, ERR_BINDING],
    fns: [offsetFn("i", rank, "1u", `${1 + rank}u`, `${1 + 2 * rank}u`), CHECK_INDEX],
    body: `  if (i >= prm[0]) { return; }\n  var rem = i;\n  var o = prm[${xs0 + rank}u];\n${loop.join("\n")}\n  out[i] = xs[o];`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, index.data.buffer, ctx.errorFlag, ctx.meta(prm)], Math.ceil(n / 256));
  return out;
}

/** Entries of the 1-D index along axis: out shape = x shape with axis size len(index). */
export function indexSelect(ctx: GpuContext, x: GpuView, axis: number, index: GpuView): GpuData {
  const shape = [...x.shape];
  shape[axis] = index.shape[0];
  const n = sizeOf(shape);
  const rank = shape.length;
  const out = ctx.alloc(n);
  // [n, out dims, x strides, x offset, x axis size, index stride, index offset]
  const prm = [n, ...shape, ...x.strides, x.offset, x.shape[axis], index.strides[0], index.offset];
  const xs0 = 1 + rank;
  const loop = [];
  for (let d = rank - 1; d >= 0; d--) {
    const coord = d === axis ? `check_index(ix[prm[${xs0 + rank + 3}u] + c * prm[${xs0 + rank + 2}u]], prm[${xs0 + rank + 1}u], 2u)` : "c";
    loop.push(`  { let s = prm[${1 + d}u]; let c = rem % s; rem = rem / s; o += ${coord} * prm[${xs0 + d}u]; }`);
  }
  const w = wordOf(x.dtype);
  const code = shader({
    bindings: [{ name: "out", word: w, write: true }, { name: "xs", word: w }, { name: "ix", word: "i32" }, ERR_BINDING],
    fns: [CHECK_INDEX],
    body: `  if (i >= prm[0]) { return; }\n  var rem = i;\n  var o = prm[${xs0 + rank}u];\n${loop.join("\n")}\n  out[i] = xs[o];`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, index.data.buffer, ctx.errorFlag, ctx.meta(prm)], Math.ceil(n / 256));
  return out;
}

/** out = base; out[..., index[p], ...] += src[p] for every p in index's shape. */
export function scatterAdd(ctx: GpuContext, base: GpuView, axis: number, index: GpuView, src: GpuView): GpuData {
  const w = wordOf(base.dtype);
  const acc = w === "f32" ? "float32" : "int32";
  const out = copy(ctx, base, acc); // unrounded accumulator
  const n = sizeOf(index.shape);
  const rank = index.shape.length;
  const outStrides = contiguousStrides(base.shape);
  // [n, index dims, index strides, index offset, src strides, src offset, out strides, out axis size]
  const prm = [n, ...index.shape, ...index.strides, index.offset, ...src.strides, src.offset, ...outStrides, base.shape[axis]];
  const ss0 = 2 + 2 * rank;
  const os0 = ss0 + rank + 1;
  const loop = [];
  for (let d = rank - 1; d >= 0; d--) {
    const coord = d === axis ? `check_index(ix[off_i(i)], prm[${os0 + rank}u], 3u)` : "c";
    loop.push(`  { let s = prm[${1 + d}u]; let c = rem % s; rem = rem / s; so += c * prm[${ss0 + d}u]; o += ${coord} * prm[${os0 + d}u]; }`);
  }
  const add =
    w === "f32"
      ? `  var old = atomicLoad(&out[o]);
  loop {
    let r = atomicCompareExchangeWeak(&out[o], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }`
      : "  atomicAdd(&out[o], v);";
  const code = shader({
    bindings: [{ name: "out", word: w === "f32" ? "atomic<u32>" : "atomic<i32>", write: true }, { name: "src", word: w }, { name: "ix", word: "i32" }, ERR_BINDING],
    fns: [offsetFn("i", rank, "1u", `${1 + rank}u`, `${1 + 2 * rank}u`), CHECK_INDEX],
    body: `  if (i >= prm[0]) { return; }\n  var rem = i;\n  var o = 0u;\n  var so = prm[${ss0 + rank}u];\n${loop.join("\n")}\n  let v = src[so];\n${add}`,
  });
  ctx.dispatch(code, [out.buffer, src.data.buffer, index.data.buffer, ctx.errorFlag, ctx.meta(prm)], Math.ceil(n / 256));
  if (base.dtype === acc) return out;
  // Round (halves) or wrap (small ints) once, as the cpu kernel stores its result.
  const rounded = copy(ctx, { data: out, dtype: acc, shape: base.shape, strides: outStrides, offset: 0 }, base.dtype);
  ctx.release(out);
  return rounded;
}

/**
 * Row kernels over the last axis of a contiguous [rows, D] view: softmax / log-softmax,
 * LayerNorm, RMSNorm. One 256-invocation workgroup per row; reductions go through workgroup
 * memory (max, then sum of exp; mean, then centred sum of squares).
 */
import { sizeOf } from "../../../core/shape";
/// <reference types="@webgpu/types" />
import { WG, type GpuContext, type GpuData } from "../context";
import { f32bits, shader, store, type Binding } from "../wgsl";
import type { GpuView } from "./elementwise";

/** A workgroup-wide reduction helper (all invocations must call it: it holds barriers). */
const WG_REDUCE = /* wgsl */ `
fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

const SHARED = `var<workgroup> red: array<f32, ${WG}>;`;

/** Bindings and buffers for out, x and the optional per-feature parameters (weight, bias). */
function normBindings(out: GpuData, x: GpuView, params: [string, GpuView | null][]): { bindings: Binding[]; bufs: GPUBuffer[] } {
  const bindings: Binding[] = [
    { name: "out", word: "f32", write: true },
    { name: "xs", word: "f32" },
  ];
  const bufs = [out.buffer, x.data.buffer];
  for (const [name, p] of params) {
    if (!p) continue;
    bindings.push({ name, word: "f32" });
    bufs.push(p.data.buffer);
  }
  return { bindings, bufs };
}

function rowsOf(x: GpuView): [number, number] {
  const D = x.shape[x.shape.length - 1] ?? 1;
  return [sizeOf(x.shape) / Math.max(D, 1), D];
}

export function softmax(ctx: GpuContext, x: GpuView, log: boolean): GpuData {
  const [rows, D] = rowsOf(x);
  const out = ctx.alloc(rows * D);
  const write = log ? `xs[b + j] - lse` : `exp(xs[b + j] - m) / s`;
  const code = shader({
    bindings: [
      { name: "out", word: "f32", write: true },
      { name: "xs", word: "f32" },
    ],
    shared: SHARED,
    fns: [WG_REDUCE],
    body: `  let row = wid.y * nwg.x + wid.x;
  let D = prm[1];
  let b = prm[2] + row * D;
  var lm = -inf_();
  if (row < prm[0]) { for (var j = lid; j < D; j += WG) { lm = max(lm, xs[b + j]); } }
  var m = wg_max(lm, lid);
  if (isinf__(m) && m < 0.0) { m = 0.0; } // a fully masked row gives NaN, as PyTorch
  var ls = 0.0;
  if (row < prm[0]) { for (var j = lid; j < D; j += WG) { ls += exp(xs[b + j] - m); } }
  let s = wg_sum(ls, lid);
  let lse = m + log(s);
  if (row < prm[0]) { for (var j = lid; j < D; j += WG) { out[row * D + j] = ${store(write, x.dtype)}; } }`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta([rows, D, x.offset])], rows);
  return out;
}

export function layerNorm(ctx: GpuContext, x: GpuView, weight: GpuView | null, bias: GpuView | null, eps: number): GpuData {
  const [rows, D] = rowsOf(x);
  const out = ctx.alloc(rows * D);
  const { bindings, bufs } = normBindings(out, x, [
    ["ws", weight],
    ["bs_", bias],
  ]);
  let y = "(xs[b + j] - mean) * rstd";
  if (weight) y = `${y} * ws[prm[4] + j]`;
  if (bias) y = `${y} + bs_[prm[5] + j]`;
  const code = shader({
    bindings,
    shared: SHARED,
    fns: [WG_REDUCE],
    body: `  let row = wid.y * nwg.x + wid.x;
  let D = prm[1];
  let b = prm[2] + row * D;
  let live = row < prm[0];
  var ls = 0.0;
  if (live) { for (var j = lid; j < D; j += WG) { ls += xs[b + j]; } }
  let mean = wg_sum(ls, lid) / f32(D);
  var lv = 0.0;
  if (live) { for (var j = lid; j < D; j += WG) { let d = xs[b + j] - mean; lv += d * d; } }
  let rstd = 1.0 / sqrt(wg_sum(lv, lid) / f32(D) + bitcast<f32>(prm[3]));
  if (live) { for (var j = lid; j < D; j += WG) { out[row * D + j] = ${store(y, x.dtype)}; } }`,
  });
  bufs.push(ctx.meta([rows, D, x.offset, f32bits(eps), weight?.offset ?? 0, bias?.offset ?? 0]));
  ctx.dispatch(code, bufs, rows);
  return out;
}

export function rmsNorm(ctx: GpuContext, x: GpuView, weight: GpuView | null, eps: number): GpuData {
  const [rows, D] = rowsOf(x);
  const out = ctx.alloc(rows * D);
  const { bindings, bufs } = normBindings(out, x, [["ws", weight]]);
  // Hugging Face rounds the normalized value to the input dtype before the weight multiply.
  const y = weight ? "ws[prm[4] + j] * (xs[b + j] * r)" : "xs[b + j] * r";
  const code = shader({
    bindings,
    shared: SHARED,
    fns: [WG_REDUCE],
    body: `  let row = wid.y * nwg.x + wid.x;
  let D = prm[1];
  let b = prm[2] + row * D;
  let live = row < prm[0];
  var ls = 0.0;
  if (live) { for (var j = lid; j < D; j += WG) { let v = xs[b + j]; ls += v * v; } }
  let r = 1.0 / sqrt(wg_sum(ls, lid) / f32(D) + bitcast<f32>(prm[3]));
  if (live) { for (var j = lid; j < D; j += WG) { out[row * D + j] = ${store(y, x.dtype)}; } }`,
  });
  bufs.push(ctx.meta([rows, D, x.offset, f32bits(eps), weight?.offset ?? 0]));
  ctx.dispatch(code, bufs, rows);
  return out;
}

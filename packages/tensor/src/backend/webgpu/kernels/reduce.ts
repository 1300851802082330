/**
 * Reductions, arg-reductions and scans on WebGPU.
 *
 * reduce/argReduce: the kept dims index the outputs and the reduced dims are walked per output.
 * Short reductions (< 256 elements) use one invocation per output; longer ones use one
 * workgroup per output with a shared-memory tree (strided partial sums, then log2(256) steps).
 * cumulative: one invocation per line along the axis (sequential within the line).
 */
import type { DType } from "../../../core/dtype";
import { contiguousStrides, sizeOf } from "../../../core/shape";
import type { ArgReduceOp, CumulativeOp, ReduceOp } from "../../backend";
import { collapse } from "../../cpu/strided";
import { WG, type GpuContext, type GpuData } from "../context";
import { offsetFn, shader, store, wordOf, type Word } from "../wgsl";
import type { GpuView } from "./elementwise";

/** Params: [M, R, kept dims, kept strides, red dims, red strides, offset] and the ranks. */
function reducePlan(x: GpuView, axes: readonly number[]): { prm: number[]; kr: number; rr: number; M: number; R: number } {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const k = collapse(
    kept.map((i) => x.shape[i]),
    [kept.map((i) => x.strides[i])],
  );
  const r = collapse(
    axes.map((i) => x.shape[i]),
    [axes.map((i) => x.strides[i])],
  );
  const M = sizeOf(kept.map((i) => x.shape[i]));
  const R = sizeOf(axes.map((i) => x.shape[i]));
  const prm = [M, R, ...k.shape, ...k.strides[0], ...r.shape, ...r.strides[0], x.offset];
  return { prm, kr: k.shape.length, rr: r.shape.length, M, R };
}

/** off_base(o): offset of output o's first element; off_red(r): offset of reduced index r from there. */
function reduceFns(kr: number, rr: number): string[] {
  const ks = 2,
    kst = 2 + kr,
    rs = 2 + 2 * kr,
    rst = 2 + 2 * kr + rr,
    of = 2 + 2 * kr + 2 * rr;
  return [offsetFn("base", kr, `${ks}u`, `${kst}u`, `${of}u`), offsetFn("red", rr, `${rs}u`, `${rst}u`, null)];
}

interface Combiner {
  init: string;
  step: (acc: string, v: string) => string;
  finish?: (acc: string) => string;
}

function combiner(op: ReduceOp, w: Word): Combiner {
  const f = w === "f32";
  switch (op) {
    case "sum":
      return { init: f ? "0.0" : "0", step: (a, v) => `${a} + ${v}` };
    case "mean":
      return { init: "0.0", step: (a, v) => `${a} + ${v}`, finish: (a) => `${a} / f32(prm[1])` };
    case "prod":
      return { init: f ? "1.0" : "1", step: (a, v) => `${a} * ${v}` };
    case "max":
      return f
        ? { init: "-inf_()", step: (a, v) => `select(max(${a}, ${v}), nan_(), isnan_(${a}) || isnan_(${v}))` }
        : { init: "-2147483647 - 1", step: (a, v) => `max(${a}, ${v})` };
    case "min":
      return f ? { init: "inf_()", step: (a, v) => `select(min(${a}, ${v}), nan_(), isnan_(${a}) || isnan_(${v}))` } : { init: "2147483647", step: (a, v) => `min(${a}, ${v})` };
    case "any":
      return { init: "0", step: (a, v) => `select(${a}, 1, ${f ? `nonzero(${v}) || isnan_(${v})` : `${v} != 0`})` };
    case "all":
      return { init: "1", step: (a, v) => `select(${a}, 0, ${f ? `!nonzero(${v}) && !isnan_(${v})` : `${v} == 0`})` };
  }
}

export function reduce(ctx: GpuContext, op: ReduceOp, x: GpuView, axes: readonly number[], outDtype: DType): GpuData {
  const { prm, kr, rr, M, R } = reducePlan(x, axes);
  const out = ctx.alloc(M);
  const inW = wordOf(x.dtype);
  // The accumulator: any/all count in i32; everything else in the input's word.
  const accW: Word = op === "any" || op === "all" ? "i32" : op === "mean" ? "f32" : inW;
  const c = combiner(op, op === "any" || op === "all" ? inW : accW);
  const load = (r: string): string => (accW === inW || op === "any" || op === "all" ? `xs[base + off_red(${r})]` : `f32(xs[base + off_red(${r})])`);
  const fin = (a: string): string => store(c.finish ? c.finish(a) : a, outDtype);
  const bindings = [
    { name: "out", word: wordOf(outDtype), write: true },
    { name: "xs", word: inW },
  ] as const;
  if (R < 256) {
    const code = shader({
      bindings: [...bindings],
      fns: reduceFns(kr, rr),
      body: `  if (i >= prm[0]) { return; }
  let base = off_base(i);
  var acc: ${accW} = ${c.init};
  for (var r = 0u; r < prm[1]; r++) { acc = ${c.step("acc", load("r"))}; }
  out[i] = ${fin("acc")};`,
    });
    ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], Math.ceil(M / WG));
    return out;
  }
  const code = shader({
    bindings: [...bindings],
    shared: `var<workgroup> part: array<${accW}, ${WG}>;`,
    fns: reduceFns(kr, rr),
    body: `  let o = wid.y * nwg.x + wid.x;
  if (o >= prm[0]) { return; }
  let base = off_base(o);
  var acc: ${accW} = ${c.init};
  for (var r = lid; r < prm[1]; r += WG) { acc = ${c.step("acc", load("r"))}; }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { part[lid] = ${c.step("part[lid]", "part[lid + s]")}; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[o] = ${fin("part[0]")}; }`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], M);
  return out;
}

export function argReduce(ctx: GpuContext, op: ArgReduceOp, x: GpuView, axis: number): GpuData {
  const { prm, kr, rr, M } = reducePlan(x, [axis]);
  const out = ctx.alloc(M);
  const w = wordOf(x.dtype);
  const better = op === "argmax" ? ">" : "<";
  // (value, index) pairs; NaN beats everything, ties keep the smaller index (first occurrence).
  const beats =
    w === "f32"
      ? `fn beats(v: f32, j: u32, m: f32, k: u32) -> bool {
  if (isnan_(m)) { return isnan_(v) && j < k; }
  if (isnan_(v)) { return true; }
  return v ${better} m || (v == m && j < k);
}`
      : `fn beats(v: i32, j: u32, m: i32, k: u32) -> bool { return v ${better} m || (v == m && j < k); }`;
  const code = shader({
    bindings: [
      { name: "out", word: "i32", write: true },
      { name: "xs", word: w },
    ],
    shared: `var<workgroup> pv: array<${w}, ${WG}>;\nvar<workgroup> pi: array<u32, ${WG}>;`,
    fns: [...reduceFns(kr, rr), beats],
    body: `  let o = wid.y * nwg.x + wid.x;
  if (o >= prm[0]) { return; }
  let base = off_base(o);
  var best: ${w} = xs[base];
  var bi: u32 = 0xffffffffu;
  for (var r = lid; r < prm[1]; r += WG) {
    let v = xs[base + off_red(r)];
    if (bi == 0xffffffffu || beats(v, r, best, bi)) { best = v; bi = r; }
  }
  pv[lid] = best;
  pi[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s && pi[lid + s] != 0xffffffffu && (pi[lid] == 0xffffffffu || beats(pv[lid + s], pi[lid + s], pv[lid], pi[lid]))) {
      pv[lid] = pv[lid + s];
      pi[lid] = pi[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out[o] = i32(pi[0]); }`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], M);
  return out;
}

export function cumulative(ctx: GpuContext, op: CumulativeOp, x: GpuView, axis: number, reverse: boolean, exclusive: boolean): GpuData {
  const n = x.shape[axis];
  const total = sizeOf(x.shape);
  const out = ctx.alloc(total);
  const outStrides = contiguousStrides(x.shape);
  const dims = x.shape.map((_, i) => i).filter((i) => i !== axis);
  const lines = sizeOf(dims.map((i) => x.shape[i]));
  const rank = dims.length;
  // [lines, n, dims..., x strides..., out strides..., x axis stride, out axis stride, x offset]
  const prm = [lines, n, ...dims.map((i) => x.shape[i]), ...dims.map((i) => x.strides[i]), ...dims.map((i) => outStrides[i]), x.strides[axis], outStrides[axis], x.offset];
  const w = wordOf(x.dtype);
  const f = w === "f32";
  const init = { sum: f ? "0.0" : "0", prod: f ? "1.0" : "1", max: f ? "-inf_()" : "-2147483647 - 1", min: f ? "inf_()" : "2147483647" }[op];
  const stepExpr = {
    sum: "acc + v",
    prod: "acc * v",
    max: f ? "select(max(acc, v), nan_(), isnan_(acc) || isnan_(v))" : "max(acc, v)",
    min: f ? "select(min(acc, v), nan_(), isnan_(acc) || isnan_(v))" : "min(acc, v)",
  }[op];
  const sx = 2 + 2 * rank + rank; // after dims, x strides, out strides
  const code = shader({
    bindings: [
      { name: "out", word: w, write: true },
      { name: "xs", word: w },
    ],
    fns: [offsetFn("x", rank, "2u", `${2 + rank}u`, `${sx + 2}u`), offsetFn("o", rank, "2u", `${2 + 2 * rank}u`, null)],
    body: `  if (i >= prm[0]) { return; }
  let xb = off_x(i);
  let ob = off_o(i);
  let n = prm[1];
  var acc: ${w} = ${init};
  for (var r = 0u; r < n; r++) {
    let t = ${reverse ? "n - 1u - r" : "r"};
    let v = xs[xb + t * prm[${sx}u]];
    ${exclusive ? `out[ob + t * prm[${sx + 1}u]] = ${store("acc", x.dtype)};\n    acc = ${stepExpr};` : `acc = ${stepExpr};\n    out[ob + t * prm[${sx + 1}u]] = ${store("acc", x.dtype)};`}
  }`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], Math.ceil(lines / WG));
  return out;
}

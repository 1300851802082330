/**
 * Elementwise WebGPU kernels: fill, copy (strided gather + cast), write (strided scatter),
 * unary, binary, where. One invocation per output element; operand offsets come from the
 * shapes/strides in the params buffer after merging contiguous dims (as the cpu kernels do).
 */
import { roundTo, type DType } from "../../../core/dtype";
import { sizeOf } from "../../../core/shape";
import type { BinaryOp, UnaryAttrs, UnaryOp, View } from "../../backend";
import { collapse } from "../../cpu/strided";
import { WG, type GpuContext, type GpuData } from "../context";
import { convert, f32bits, offsetFn, shader, store, wordOf, type Word } from "../wgsl";

export type GpuView = View<GpuData>;

/**
 * Params for an elementwise op over `shape` with operand views: [n, shape..., then per operand
 * strides..., offset], after merging dims. Returns the params and the merged rank.
 */
export function layout(
  shape: readonly number[],
  views: readonly { strides: readonly number[]; offset: number }[],
): { prm: number[]; rank: number; at: (k: number) => [string, string, string] } {
  const c = collapse(
    shape,
    views.map((v) => v.strides),
  );
  const rank = c.shape.length;
  const prm = [sizeOf(shape), ...c.shape];
  views.forEach((v, k) => prm.push(...c.strides[k], v.offset));
  const at = (k: number): [string, string, string] => ["1u", `${1 + rank + k * (rank + 1)}u`, `${1 + rank + k * (rank + 1) + rank}u`];
  return { prm, rank, at };
}

function groups(n: number): number {
  return Math.ceil(n / WG);
}

export function fill(ctx: GpuContext, size: number, dtype: DType, value: number): GpuData {
  const out = ctx.alloc(size);
  const w = wordOf(dtype);
  const v = roundTo(dtype, value);
  // Integer fills wrap like the cpu typed arrays do (int8 300 -> 44).
  const bits = w === "f32" ? f32bits(v) : dtype === "int8" ? (v << 24) >> 24 : dtype === "uint8" ? v & 255 : v | 0;
  const code = shader({
    bindings: [{ name: "out", word: w, write: true }],
    body: `  if (i >= prm[0]) { return; }\n  out[i] = bitcast<${w}>(prm[1]);`,
  });
  ctx.dispatch(code, [out.buffer, ctx.meta([size, bits])], groups(size));
  return out;
}

export function copy(ctx: GpuContext, x: GpuView, dtype: DType): GpuData {
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n);
  const { prm, rank, at } = layout(x.shape, [x]);
  const [sh, st, of] = at(0);
  const code = shader({
    bindings: [
      { name: "out", word: wordOf(dtype), write: true },
      { name: "x", word: wordOf(x.dtype) },
    ],
    fns: [offsetFn("x", rank, sh, st, of)],
    body: `  if (i >= prm[0]) { return; }\n  out[i] = ${castTo("x[off_x(i)]", x.dtype, dtype)};`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], groups(n));
  return out;
}

/** A value of `from` as `to` stores it: float -> bool tests != 0 before any truncation. */
function castTo(expr: string, from: DType, to: DType): string {
  if (to === "bool" && wordOf(from) === "f32") return `select(0, 1, nonzero(${expr}))`;
  return store(convert(expr, wordOf(from), wordOf(to)), to);
}

export function write(ctx: GpuContext, dst: GpuView, src: GpuView): void {
  const n = sizeOf(dst.shape);
  const { prm, rank, at } = layout(dst.shape, [dst, src]);
  const [sh, sd, od] = at(0);
  const [, ss, os] = at(1);
  const code = shader({
    bindings: [
      { name: "dst", word: wordOf(dst.dtype), write: true },
      { name: "src", word: wordOf(src.dtype) },
    ],
    fns: [offsetFn("dst", rank, sh, sd, od), offsetFn("src", rank, sh, ss, os)],
    body: `  if (i >= prm[0]) { return; }\n  dst[off_dst(i)] = ${castTo("src[off_src(i)]", src.dtype, dst.dtype)};`,
  });
  ctx.dispatch(code, [dst.data.buffer, src.data.buffer, ctx.meta(prm)], groups(n));
}

/** WGSL for a unary op on value `x` of word `w`; attributes read from prm at `a`. */
function unaryExpr(op: UnaryOp, w: Word, a: number): string {
  const attr = (k: number): string => `bitcast<f32>(prm[${a + k}u])`;
  if (w === "i32") {
    switch (op) {
      case "neg":
        return "-x";
      case "abs":
        return "abs(x)";
      case "sign":
        return "sign(x)";
      case "square":
        return "x * x";
      case "relu":
        return "max(x, 0)";
      case "floor":
      case "ceil":
      case "round":
      case "trunc":
        return "x";
      case "clamp":
        return `f2i(select(select(f32(x), ${attr(1)}, f32(x) > ${attr(1)}), ${attr(0)}, f32(x) < ${attr(0)}))`;
      case "not":
        return "select(0, 1, x == 0)";
      case "isnan":
      case "isinf":
        return "0";
      default:
        throw new Error(`webgpu: unary '${op}' is float-only (the op layer casts integers first)`);
    }
  }
  switch (op) {
    case "neg":
      return "-x";
    case "abs":
      return "abs(x)";
    case "sign":
      return "select(sign(x), x, isnan_(x))";
    case "exp":
      return "exp(x)";
    case "expm1":
      return "expm1_(x)";
    case "log":
      return "log(x)";
    case "log1p":
      return "log1p_(x)";
    case "sqrt":
      return "sqrt(x)";
    case "rsqrt":
      return "1.0 / sqrt(x)";
    case "square":
      return "x * x";
    case "reciprocal":
      return "1.0 / x";
    case "tanh":
      return "tanh_(x)";
    case "sigmoid":
      return "sigmoid_(x)";
    case "relu":
      return "select(x, 0.0, x < 0.0)";
    case "gelu":
      return "0.5 * x * (1.0 + erf_(x * 0.70710678118654752))";
    case "gelu_tanh":
      return "0.5 * x * (1.0 + tanh_(0.79788456080286536 * (x + 0.044715 * x * x * x)))";
    case "silu":
      return "x / (1.0 + exp(-x))";
    case "softplus":
      return `select(log1p_(exp(x * ${attr(0)})) / ${attr(0)}, x, x * ${attr(0)} > ${attr(1)})`;
    case "elu":
      return `select(${attr(0)} * expm1_(x), x, x > 0.0)`;
    case "erf":
      return "erf_(x)";
    case "sin":
      return "sin_(x)";
    case "cos":
      return "cos_(x)";
    case "floor":
      return "floor(x)";
    case "ceil":
      return "ceil(x)";
    case "round":
      return "round(x)";
    case "trunc":
      return "trunc(x)";
    case "clamp":
      return `select(select(x, ${attr(1)}, x > ${attr(1)}), ${attr(0)}, x < ${attr(0)})`;
    case "not":
      return "select(0, 1, !nonzero(x) && !isnan_(x))";
    case "isnan":
      return "select(0, 1, isnan_(x))";
    case "isinf":
      return "select(0, 1, isinf__(x))";
  }
}

function unaryAttrs(op: UnaryOp, at: UnaryAttrs): number[] {
  if (op === "softplus") return [at.beta ?? 1, at.threshold ?? 20];
  if (op === "elu") return [at.alpha ?? 1];
  if (op === "clamp") return [at.min ?? -Infinity, at.max ?? Infinity];
  return [];
}

export function unary(ctx: GpuContext, op: UnaryOp, x: GpuView, outDtype: DType, attrs: UnaryAttrs = {}): GpuData {
  const n = sizeOf(x.shape);
  const out = ctx.alloc(n);
  const { prm, rank, at } = layout(x.shape, [x]);
  const a = prm.length;
  prm.push(...unaryAttrs(op, attrs).map(f32bits));
  const [sh, st, of] = at(0);
  const w = wordOf(x.dtype);
  const code = shader({
    bindings: [
      { name: "out", word: wordOf(outDtype), write: true },
      { name: "xs", word: w },
    ],
    fns: [offsetFn("x", rank, sh, st, of)],
    body: `  if (i >= prm[0]) { return; }\n  let x = xs[off_x(i)];\n  out[i] = ${store(unaryExpr(op, w, a), outDtype)};`,
  });
  ctx.dispatch(code, [out.buffer, x.data.buffer, ctx.meta(prm)], groups(n));
  return out;
}

function binaryExpr(op: BinaryOp, w: Word): string {
  // Truthiness: NaN counts as true, as in JS (bit test: see wgsl.ts).
  const nz = (v: string): string => (w === "f32" ? `(nonzero(${v}) || isnan_(${v}))` : `${v} != 0`);
  switch (op) {
    case "add":
      return "x + y";
    case "sub":
      return "x - y";
    case "mul":
      return "x * y";
    case "div":
      return "x / y";
    case "pow":
      return "pow_(x, y)";
    case "maximum":
      return w === "f32" ? "select(max(x, y), nan_(), isnan_(x) || isnan_(y))" : "max(x, y)";
    case "minimum":
      return w === "f32" ? "select(min(x, y), nan_(), isnan_(x) || isnan_(y))" : "min(x, y)";
    case "mod":
      return `mod_(x, y)`;
    case "atan2":
      return "atan2(x, y)";
    case "eq":
      return "select(0, 1, x == y)";
    case "ne":
      return "select(0, 1, x != y)";
    case "lt":
      return "select(0, 1, x < y)";
    case "le":
      return "select(0, 1, x <= y)";
    case "gt":
      return "select(0, 1, x > y)";
    case "ge":
      return "select(0, 1, x >= y)";
    case "and":
      return `select(0, 1, ${nz("x")} && ${nz("y")})`;
    case "or":
      return `select(0, 1, ${nz("x")} || ${nz("y")})`;
    case "xor":
      return `select(0, 1, (${nz("x")}) != (${nz("y")}))`;
  }
}

/** pow and remainder with JS/PyTorch semantics (WGSL's pow is undefined for x < 0). */
function binaryFns(w: Word): string {
  if (w === "i32")
    return `fn mod_(x: i32, y: i32) -> i32 { let r = x % y; return select(r, r + y, r != 0 && ((r < 0) != (y < 0))); }\nfn pow_(x: i32, y: i32) -> i32 { return i32(pow(f32(x), f32(y))); }`;
  return `fn mod_(x: f32, y: f32) -> f32 { let r = x - y * trunc(x / y); return select(r, r + y, r != 0.0 && ((r < 0.0) != (y < 0.0))); }
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x == 0.0) { return select(0.0, inf_(), y < 0.0); }
  let m = exp2(y * log2(abs(x)));
  if (x > 0.0) { return m; }
  if (trunc(y) != y) { return nan_(); }
  let odd = abs(y - 2.0 * trunc(y * 0.5)) == 1.0;
  return select(m, -m, odd);
}`;
}

export function binary(ctx: GpuContext, op: BinaryOp, a: GpuView, b: GpuView, outDtype: DType): GpuData {
  const n = sizeOf(a.shape);
  const out = ctx.alloc(n);
  const { prm, rank, at } = layout(a.shape, [a, b]);
  const [sh, sa, oa] = at(0);
  const [, sb, ob] = at(1);
  const w = wordOf(a.dtype);
  const code = shader({
    bindings: [
      { name: "out", word: wordOf(outDtype), write: true },
      { name: "as_", word: w },
      { name: "bs_", word: wordOf(b.dtype) },
    ],
    fns: [offsetFn("a", rank, sh, sa, oa), offsetFn("b", rank, sh, sb, ob), binaryFns(w)],
    body: `  if (i >= prm[0]) { return; }\n  let x = as_[off_a(i)];\n  let y = bs_[off_b(i)];\n  out[i] = ${store(binaryExpr(op, w), outDtype)};`,
  });
  ctx.dispatch(code, [out.buffer, a.data.buffer, b.data.buffer, ctx.meta(prm)], groups(n));
  return out;
}

export function where(ctx: GpuContext, cond: GpuView, a: GpuView, b: GpuView): GpuData {
  const n = sizeOf(a.shape);
  const out = ctx.alloc(n);
  const { prm, rank, at } = layout(a.shape, [cond, a, b]);
  const [sh, sc, oc] = at(0);
  const [, sa, oa] = at(1);
  const [, sb, ob] = at(2);
  const w = wordOf(a.dtype);
  const code = shader({
    bindings: [
      { name: "out", word: w, write: true },
      { name: "cs", word: "i32" },
      { name: "as_", word: w },
      { name: "bs_", word: w },
    ],
    fns: [offsetFn("c", rank, sh, sc, oc), offsetFn("a", rank, sh, sa, oa), offsetFn("b", rank, sh, sb, ob)],
    body: `  if (i >= prm[0]) { return; }\n  out[i] = select(bs_[off_b(i)], as_[off_a(i)], cs[off_c(i)] != 0);`,
  });
  ctx.dispatch(code, [out.buffer, cond.data.buffer, a.data.buffer, b.data.buffer, ctx.meta(prm)], groups(n));
  return out;
}

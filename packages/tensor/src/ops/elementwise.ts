/**
 * Elementwise math with NumPy broadcasting and PyTorch type promotion. Each op's backward is
 * written next to its forward, in terms of ops.
 */
import type { BinaryOp, UnaryAttrs, UnaryOp } from "../backend/backend";
import { isFloat, promoteTypes, type DType } from "../core/dtype";
import { fail, fmtShape } from "../core/errors";
import { broadcastShapes } from "../core/shape";
import { record, type BackwardFn } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { sumTo } from "./reduce";
import { dispose } from "../core/engine";
import { asTensor, backendOf, broadcastView, fromValues, wrap, type TensorLike } from "./util";

// --- binary ------------------------------------------------------------------------------------

const COMPARISONS = new Set<BinaryOp>(["eq", "ne", "lt", "le", "gt", "ge"]);
const LOGICAL = new Set<BinaryOp>(["and", "or", "xor"]);
/** Ops whose integer form would be wrong or surprising: computed in float32 (true division). */
const FLOAT_ONLY = new Set<BinaryOp>(["div", "atan2"]);

/** Converts both operands (numbers relative to the other operand's dtype). */
export function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const ta = typeof a === "number" || typeof a === "boolean" ? null : asTensor(op, "a", a);
  const tb = typeof b === "number" || typeof b === "boolean" ? null : asTensor(op, "b", b, ta ?? undefined);
  if (!ta && !tb) return [asTensor(op, "a", a), asTensor(op, "b", b)];
  return [ta ?? asTensor(op, "a", a, tb!), tb ?? asTensor(op, "b", b, ta!)];
}

function binaryOp(op: BinaryOp, a: TensorLike, b: TensorLike, backward?: (dy: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  const [ta, tb] = operands(op, a, b);
  const be = backendOf(op, ta, tb);
  let dtype: DType = promoteTypes(ta.dtype, tb.dtype);
  if (LOGICAL.has(op)) dtype = "bool";
  else if (FLOAT_ONLY.has(op) && !isFloat(dtype)) dtype = "float32";
  else if (op === "pow" && !isFloat(dtype)) dtype = "float32";
  const outShape = broadcastShapes(op, ta.shape, tb.shape);
  const ca = ta.dtype === dtype ? ta : cast(ta, dtype);
  const cb = tb.dtype === dtype ? tb : cast(tb, dtype);
  const outDtype: DType = COMPARISONS.has(op) || LOGICAL.has(op) ? "bool" : dtype;
  const y = wrap(be, be.binary(op, broadcastView(ca, outShape), broadcastView(cb, outShape), outDtype), outShape, outDtype);
  const out = backward
    ? record(op, [ca, cb], y, (dy, [x0, x1], yy) => {
        const [g0, g1] = backward(dy, x0, x1, yy);
        return [g0 && sumTo(g0, x0.shape), g1 && sumTo(g1, x1.shape)];
      })
    : y;
  if (ca !== ta) ca.dispose();
  if (cb !== tb) cb.dispose();
  return out;
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("add", a, b, (dy) => [dy, dy]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("sub", a, b, (dy) => [dy, neg(dy)]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("mul", a, b, (dy, x0, x1) => [mul(dy, x1), mul(dy, x0)]);
}

/** True division (integers are divided in float32). */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("div", a, b, (dy, x0, x1, y) => [div(dy, x1), neg(div(mul(dy, y), x1))]);
}

/** a ** b. d/da = b a^(b-1); d/db = a^b ln a (0 where a = 0, as PyTorch). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("pow", a, b, (dy, x0, x1, y) => [mul(dy, mul(x1, pow(x0, sub(x1, 1)))), mul(dy, where(eq(x0, 0), 0, mul(y, log(x0))))]);
}

/** Elementwise max (NaN propagates); on ties the gradient is split evenly, as PyTorch. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("maximum", a, b, (dy, x0, x1) => tieSplit(dy, gt(x0, x1), eq(x0, x1)));
}

export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("minimum", a, b, (dy, x0, x1) => tieSplit(dy, lt(x0, x1), eq(x0, x1)));
}

function tieSplit(dy: Tensor, first: Tensor, tie: Tensor): [Tensor, Tensor] {
  const wFirst = add(cast(first, dy.dtype), mul(cast(tie, dy.dtype), 0.5));
  return [mul(dy, wFirst), mul(dy, sub(1, wFirst))];
}

/** Remainder with the divisor's sign (torch.remainder, Python's %). */
export function mod(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("mod", a, b, (dy, x0, x1) => [dy, neg(mul(dy, floor(div(x0, x1))))]);
}

export function atan2(a: TensorLike, b: TensorLike): Tensor {
  return binaryOp("atan2", a, b, (dy, y0, x0) => {
    const r2 = add(square(y0), square(x0));
    return [div(mul(dy, x0), r2), neg(div(mul(dy, y0), r2))];
  });
}

export const eq = (a: TensorLike, b: TensorLike): Tensor => binaryOp("eq", a, b);
export const ne = (a: TensorLike, b: TensorLike): Tensor => binaryOp("ne", a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binaryOp("lt", a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => binaryOp("le", a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binaryOp("gt", a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binaryOp("ge", a, b);
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => binaryOp("and", a, b);
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => binaryOp("or", a, b);
export const logicalXor = (a: TensorLike, b: TensorLike): Tensor => binaryOp("xor", a, b);

/** cond ? a : b, broadcasting all three. */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const c = asTensor("where", "cond", cond);
  // Two plain numbers live where the condition does (float32 unless given as tensors).
  const bothNumbers = (typeof a === "number" || typeof a === "boolean") && (typeof b === "number" || typeof b === "boolean");
  const [ta, tb] = bothNumbers ? [fromValues([Number(a)], [], "float32", c.storage.backend), fromValues([Number(b)], [], "float32", c.storage.backend)] : operands("where", a, b);
  const be = backendOf("where", c, ta, tb);
  const dtype = promoteTypes(ta.dtype, tb.dtype);
  const outShape = broadcastShapes("where", c.shape, ta.shape, tb.shape);
  const cc = c.dtype === "bool" ? c : cast(c, "bool");
  const ca = ta.dtype === dtype ? ta : cast(ta, dtype);
  const cb = tb.dtype === dtype ? tb : cast(tb, dtype);
  const y = wrap(be, be.where(broadcastView(cc, outShape), broadcastView(ca, outShape), broadcastView(cb, outShape)), outShape, dtype);
  const out = record("where", [ca, cb, cc], y, (dy, [x0, x1, m]) => {
    const zero = mul(dy, 0);
    return [sumTo(where(m, dy, zero), x0.shape), sumTo(where(m, zero, dy), x1.shape), null];
  });
  for (const [t, orig] of [
    [cc, c],
    [ca, ta],
    [cb, tb],
  ] as const)
    if (t !== orig) t.dispose();
  if (bothNumbers) dispose([ta, tb]);
  return out;
}

// --- unary -------------------------------------------------------------------------------------

/** Ops that keep an integer dtype; every other op computes integers in float32. */
const INT_OK = new Set<UnaryOp>(["neg", "abs", "sign", "square", "relu", "clamp", "floor", "ceil", "round", "trunc"]);
const BOOL_OUT = new Set<UnaryOp>(["not", "isnan", "isinf"]);

export function unaryOp(op: UnaryOp, x: TensorLike, attrs: UnaryAttrs | undefined, backward: BackwardFn | null): Tensor {
  const t = asTensor(op, "x", x);
  const be = backendOf(op, t);
  if (t.dtype === "bool" && !BOOL_OUT.has(op)) fail(op, `x is a bool tensor ${fmtShape(t.shape)}: cast it to a number type first`);
  const inDtype: DType = isFloat(t.dtype) || INT_OK.has(op) || BOOL_OUT.has(op) ? t.dtype : "float32";
  const ct = inDtype === t.dtype ? t : cast(t, inDtype);
  const outDtype: DType = BOOL_OUT.has(op) ? "bool" : inDtype;
  const y = wrap(be, be.unary(op, ct.view(), outDtype, attrs), ct.shape, outDtype);
  const out = backward ? record(op, [ct], y, backward) : y;
  if (ct !== t) ct.dispose();
  return out;
}

const zeroGrad: BackwardFn = (dy) => [mul(dy, 0)];

export const neg = (x: TensorLike): Tensor => unaryOp("neg", x, undefined, (dy) => [neg(dy)]);
export const abs = (x: TensorLike): Tensor => unaryOp("abs", x, undefined, (dy, [a]) => [mul(dy, sign(a))]);
export const sign = (x: TensorLike): Tensor => unaryOp("sign", x, undefined, zeroGrad);
export const exp = (x: TensorLike): Tensor => unaryOp("exp", x, undefined, (dy, _i, y) => [mul(dy, y)]);
export const expm1 = (x: TensorLike): Tensor => unaryOp("expm1", x, undefined, (dy, _i, y) => [mul(dy, add(y, 1))]);
export const log = (x: TensorLike): Tensor => unaryOp("log", x, undefined, (dy, [a]) => [div(dy, a)]);
export const log1p = (x: TensorLike): Tensor => unaryOp("log1p", x, undefined, (dy, [a]) => [div(dy, add(a, 1))]);
export const sqrt = (x: TensorLike): Tensor => unaryOp("sqrt", x, undefined, (dy, _i, y) => [div(mul(dy, 0.5), y)]);
/** 1 / sqrt(x); d/dx = -0.5 y^3. */
export const rsqrt = (x: TensorLike): Tensor => unaryOp("rsqrt", x, undefined, (dy, _i, y) => [mul(dy, mul(pow(y, 3), -0.5))]);
export const square = (x: TensorLike): Tensor => unaryOp("square", x, undefined, (dy, [a]) => [mul(dy, mul(a, 2))]);
export const reciprocal = (x: TensorLike): Tensor => unaryOp("reciprocal", x, undefined, (dy, _i, y) => [neg(mul(dy, square(y)))]);
export const tanh = (x: TensorLike): Tensor => unaryOp("tanh", x, undefined, (dy, _i, y) => [mul(dy, sub(1, square(y)))]);
export const erf = (x: TensorLike): Tensor => unaryOp("erf", x, undefined, (dy, [a]) => [mul(dy, mul(exp(neg(square(a))), 2 / Math.sqrt(Math.PI)))]);
export const sin = (x: TensorLike): Tensor => unaryOp("sin", x, undefined, (dy, [a]) => [mul(dy, cos(a))]);
export const cos = (x: TensorLike): Tensor => unaryOp("cos", x, undefined, (dy, [a]) => [neg(mul(dy, sin(a)))]);
export const floor = (x: TensorLike): Tensor => unaryOp("floor", x, undefined, zeroGrad);
export const ceil = (x: TensorLike): Tensor => unaryOp("ceil", x, undefined, zeroGrad);
/** Round half to even (torch.round). */
export const round = (x: TensorLike): Tensor => unaryOp("round", x, undefined, zeroGrad);
export const trunc = (x: TensorLike): Tensor => unaryOp("trunc", x, undefined, zeroGrad);
export const logicalNot = (x: TensorLike): Tensor => unaryOp("not", x, undefined, null);
export const isnan = (x: TensorLike): Tensor => unaryOp("isnan", x, undefined, null);
export const isinf = (x: TensorLike): Tensor => unaryOp("isinf", x, undefined, null);

/** Limits values to [min, max]; the gradient passes where min <= x <= max. */
export function clamp(x: TensorLike, min?: number | null, max?: number | null): Tensor {
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (lo > hi) fail("clamp", `min ${lo} is greater than max ${hi}`);
  return unaryOp("clamp", x, { min: lo, max: hi }, (dy, [a]) => [mul(dy, cast(logicalAnd(ge(a, lo), le(a, hi)), dy.dtype))]);
}

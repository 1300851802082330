/**
 * Matrix products. `matmul` follows torch.matmul: 1-D operands are promoted (and the added
 * axis removed after), batch dims broadcast, transposed views are consumed without copying.
 */
import { isFloat, promoteTypes } from "../core/dtype";
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { broadcastShapes } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { add } from "./elementwise";
import { sumTo } from "./reduce";
import { asTensor, backendOf, broadcastView, wrap, type TensorLike } from "./util";
import { reshape, transpose } from "./view";

export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor("matmul", "a", a);
  const tb = asTensor("matmul", "b", b);
  const be = backendOf("matmul", ta, tb);
  if (ta.rank === 0 || tb.rank === 0) fail("matmul", `a ${fmtShape(ta.shape)} and b ${fmtShape(tb.shape)} must have at least 1 dim each`);
  if (ta.dtype === "bool" || tb.dtype === "bool") fail("matmul", `bool operands (a ${ta.dtype}, b ${tb.dtype}) are not supported`);
  return tidy(() => {
    // 1-D: a [K] -> [1, K]; b [K] -> [K, 1].
    const a2 = ta.rank === 1 ? reshape(ta, [1, ta.shape[0]]) : ta;
    const b2 = tb.rank === 1 ? reshape(tb, [tb.shape[0], 1]) : tb;
    const K = a2.shape[a2.rank - 1];
    if (b2.shape[b2.rank - 2] !== K) {
      fail("matmul", `a ${fmtShape(ta.shape)} and b ${fmtShape(tb.shape)} disagree on the contracted axis (${K} vs ${b2.shape[b2.rank - 2]})`);
    }
    const M = a2.shape[a2.rank - 2];
    const N = b2.shape[b2.rank - 1];
    const batch = broadcastShapes("matmul", a2.shape.slice(0, -2), b2.shape.slice(0, -2));
    const dtype = promoteTypes(a2.dtype, b2.dtype);
    // A backend that reads mixed float operands itself (webgpu: a float16 weight read packed)
    // gets them as they are; others get both cast to the promoted dtype.
    const asIs = be.mixedFloatMatmul === true && isFloat(a2.dtype) && isFloat(b2.dtype);
    const ca = asIs || a2.dtype === dtype ? a2 : cast(a2, dtype);
    const cb = asIs || b2.dtype === dtype ? b2 : cast(b2, dtype);
    const outDtype = isFloat(dtype) ? dtype : "int32";
    const y = wrap(be, be.matmul(broadcastView(ca, [...batch, M, K]), broadcastView(cb, [...batch, K, N]), outDtype), [...batch, M, N], outDtype);
    // dA = dY B^T, dB = A^T dY (summed over broadcast batch dims).
    const out = record("matmul", [ca, cb], y, (dy, [x0, x1]) => [
      castTo(sumTo(matmul(dy, transpose(x1)), x0.shape), x0.dtype),
      castTo(sumTo(matmul(transpose(x0), dy), x1.shape), x1.dtype),
    ]);
    if (ta.rank === 1 && tb.rank === 1) return reshape(out, []);
    if (ta.rank === 1) return reshape(out, [...batch, N]);
    if (tb.rank === 1) return reshape(out, [...batch, M]);
    return out;
  });
}

/** A gradient in its input's dtype (mixed-dtype products give float32 gradients). */
function castTo(g: Tensor, dtype: Tensor["dtype"]): Tensor {
  return g.dtype === dtype ? g : cast(g, dtype);
}

/** x W^T + b with W [out, in] (PyTorch's nn.Linear layout). */
export function linear(x: TensorLike, weight: TensorLike, bias?: TensorLike | null): Tensor {
  const tw = asTensor("linear", "weight", weight);
  const tx = asTensor("linear", "x", x);
  if (tw.rank !== 2) fail("linear", `weight must be 2-D [out, in], got ${fmtShape(tw.shape)}`);
  if (tx.shape[tx.rank - 1] !== tw.shape[1]) {
    fail("linear", `x ${fmtShape(tx.shape)} has ${tx.shape[tx.rank - 1]} features but weight ${fmtShape(tw.shape)} expects ${tw.shape[1]}`);
  }
  const tb = bias === undefined || bias === null ? null : asTensor("linear", "bias", bias);
  if (tb && (tb.rank !== 1 || tb.shape[0] !== tw.shape[0])) fail("linear", `bias ${fmtShape(tb.shape)} must be [${tw.shape[0]}]`);
  return tidy(() => (tb ? matmulAddBias("linear", tx, transpose(tw), tb) : matmul(tx, transpose(tw))));
}

/**
 * x W + b with W [in, out] (Hugging Face's GPT-2 `Conv1D` layout; `linear` takes [out, in]).
 * Same as `add(matmul(x, weight), bias)`, with the bias added inside the product where the
 * backend can (cpu: the GEMM / GEMV epilogue).
 */
export function affine(x: TensorLike, weight: TensorLike, bias?: TensorLike | null): Tensor {
  const tw = asTensor("affine", "weight", weight);
  const tx = asTensor("affine", "x", x);
  if (tw.rank !== 2) fail("affine", `weight must be 2-D [in, out], got ${fmtShape(tw.shape)}`);
  if (tx.shape[tx.rank - 1] !== tw.shape[0]) {
    fail("affine", `x ${fmtShape(tx.shape)} has ${tx.shape[tx.rank - 1]} features but weight ${fmtShape(tw.shape)} expects ${tw.shape[0]}`);
  }
  const tb = bias === undefined || bias === null ? null : asTensor("affine", "bias", bias);
  if (tb && (tb.rank !== 1 || tb.shape[0] !== tw.shape[1])) fail("affine", `bias ${fmtShape(tb.shape)} must be [${tw.shape[1]}]`);
  return tb ? matmulAddBias("affine", tx, tw, tb) : matmul(tx, tw);
}

/**
 * x @ w + bias for w [K, N] (possibly a transposed view) and bias [N]: one kernel where the
 * backend fuses the bias (Backend.matmulBias; float32, x at least 2-D), else matmul then add.
 * Gradients of the fused form: dx = dy w^T, dw = x^T dy (summed over batch dims), db = dy
 * summed over every axis but the last.
 */
function matmulAddBias(op: string, x: Tensor, w: Tensor, bias: Tensor): Tensor {
  const be = backendOf(op, x, w, bias);
  const fused = be.matmulBias && x.rank >= 2 && x.dtype === "float32" && w.dtype === "float32" && bias.dtype === "float32";
  if (!fused) return tidy(() => add(matmul(x, w), bias));
  const [M, K, N] = [x.shape[x.rank - 2], x.shape[x.rank - 1], w.shape[1]];
  const batch = x.shape.slice(0, -2);
  const y = wrap(be, be.matmulBias!(broadcastView(x, [...batch, M, K]), broadcastView(w, [...batch, K, N]), broadcastView(bias, [N]), "float32"), [...batch, M, N], "float32");
  return record(op, [x, w, bias], y, (dy, [x0, w0, b0]) => [matmul(dy, transpose(w0)), sumTo(matmul(transpose(x0), dy), w0.shape), sumTo(dy, b0.shape)]);
}

/**
 * Fused softmax / log-softmax and normalization layers. Forward passes are single kernels; the
 * backward rules are op compositions (so they run on every backend):
 *   softmax:    dx = y * (dy - sum(dy * y))
 *   logSoftmax: dx = dy - exp(y) * sum(dy)
 *   layerNorm:  dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * weight
 *   rmsNorm:    dx = r * (g - xhat * mean(g * xhat)),               xhat = x * r
 */
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { normAxis, sizeOf } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { add, exp, mul, rsqrt, sub } from "./elementwise";
import { mean, sum } from "./reduce";
import { asTensor, backendOf, checkFloat, wrap, type TensorLike } from "./util";
import { reshape, transpose } from "./view";

function softmaxLike(op: "softmax" | "logSoftmax", x: TensorLike, axis: number): Tensor {
  const t = asTensor(op, "x", x);
  checkFloat(op, "x", t);
  const be = backendOf(op, t);
  const a = normAxis(op, axis, t.rank);
  if (t.rank === 0) fail(op, "x must have at least 1 dim");
  const last = t.rank - 1;
  return tidy(() => {
    const src = a === last ? t : transpose(t, a, last);
    const y = wrap(be, be.softmax(src.view(), op === "logSoftmax"), src.shape, t.dtype);
    const rec = record(op, [src], y, (dy, _i, yy) =>
      op === "softmax" ? [mul(yy, sub(dy, sum(mul(dy, yy), -1, { keepdims: true })))] : [sub(dy, mul(exp(yy), sum(dy, -1, { keepdims: true })))],
    );
    return a === last ? rec : transpose(rec, a, last);
  });
}

/** exp(x - max) / sum(exp(x - max)) along `axis` (default: last). */
export const softmax = (x: TensorLike, axis = -1): Tensor => softmaxLike("softmax", x, axis);
/** x - logsumexp(x) along `axis` (default: last). */
export const logSoftmax = (x: TensorLike, axis = -1): Tensor => softmaxLike("logSoftmax", x, axis);

/** The trailing dims a norm layer normalizes over, given its weight (or 1 dim without one). */
function normDims(op: string, x: Tensor, weight: Tensor | null, bias: Tensor | null): number {
  const k = weight ? weight.rank : bias ? bias.rank : 1;
  const trailing = x.shape.slice(x.rank - k);
  for (const [name, p] of [
    ["weight", weight],
    ["bias", bias],
  ] as const) {
    if (p && (p.rank !== k || p.shape.some((d, i) => d !== trailing[i]))) {
      fail(op, `${name} ${fmtShape(p.shape)} must match the trailing dims ${fmtShape(trailing)} of x ${fmtShape(x.shape)}`);
    }
  }
  if (x.rank < k || k < 1) fail(op, `x ${fmtShape(x.shape)} has fewer dims than the normalized shape`);
  return sizeOf(trailing);
}

/**
 * LayerNorm (Ba et al. 2016) over the trailing dims that `weight` spans (the last dim if none):
 * (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance, as PyTorch.
 */
export function layerNorm(x: TensorLike, weight?: TensorLike | null, bias?: TensorLike | null, eps = 1e-5): Tensor {
  const t = asTensor("layerNorm", "x", x);
  const w = weight == null ? null : asTensor("layerNorm", "weight", weight);
  const b = bias == null ? null : asTensor("layerNorm", "bias", bias);
  checkFloat("layerNorm", "x", t);
  const be = backendOf("layerNorm", t, w, b);
  const D = normDims("layerNorm", t, w, b);
  return tidy(() => {
    // [..., D]: flatten the normalized dims into one.
    const x2 = reshape(t, [...t.shape.slice(0, t.rank - (w?.rank ?? b?.rank ?? 1)), D]);
    const w2 = w && reshape(w, [D]);
    const b2 = b && reshape(b, [D]);
    const y = wrap(be, be.layerNorm(x2.view(), w2?.view() ?? null, b2?.view() ?? null, eps), x2.shape, t.dtype);
    const inputs = [x2, ...(w2 ? [w2] : []), ...(b2 ? [b2] : [])];
    const rec = record("layerNorm", inputs, y, (dy, ins) => {
      const xi = ins[0];
      const wi = w2 ? ins[1] : null;
      const mu = mean(xi, -1, { keepdims: true });
      const xc = sub(xi, mu);
      const rstd = rsqrt(add(mean(mul(xc, xc), -1, { keepdims: true }), eps));
      const xhat = mul(xc, rstd);
      const g = wi ? mul(dy, wi) : dy;
      const dx = mul(rstd, sub(sub(g, mean(g, -1, { keepdims: true })), mul(xhat, mean(mul(g, xhat), -1, { keepdims: true }))));
      const batchAxes = xi.shape.slice(0, -1).map((_, i) => i);
      const grads: (Tensor | null)[] = [dx];
      if (wi) grads.push(sum(mul(dy, xhat), batchAxes));
      if (b2) grads.push(sum(dy, batchAxes));
      return grads;
    });
    return reshape(rec, t.shape);
  });
}

/**
 * RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * weight over the trailing dims
 * of `weight` (Hugging Face LlamaRMSNorm semantics).
 */
export function rmsNorm(x: TensorLike, weight?: TensorLike | null, eps = 1e-6): Tensor {
  const t = asTensor("rmsNorm", "x", x);
  const w = weight == null ? null : asTensor("rmsNorm", "weight", weight);
  checkFloat("rmsNorm", "x", t);
  const be = backendOf("rmsNorm", t, w);
  const D = normDims("rmsNorm", t, w, null);
  return tidy(() => {
    const x2 = reshape(t, [...t.shape.slice(0, t.rank - (w?.rank ?? 1)), D]);
    const w2 = w && reshape(w, [D]);
    const y = wrap(be, be.rmsNorm(x2.view(), w2?.view() ?? null, eps), x2.shape, t.dtype);
    const rec = record("rmsNorm", w2 ? [x2, w2] : [x2], y, (dy, ins) => {
      const xi = ins[0];
      const wi = w2 ? ins[1] : null;
      const r = rsqrt(add(mean(mul(xi, xi), -1, { keepdims: true }), eps));
      const xhat = mul(xi, r);
      const g = wi ? mul(dy, wi) : dy;
      const dx = mul(r, sub(g, mul(xhat, mean(mul(g, xhat), -1, { keepdims: true }))));
      return wi
        ? [
            dx,
            sum(
              mul(dy, xhat),
              xi.shape.slice(0, -1).map((_, i) => i),
            ),
          ]
        : [dx];
    });
    return reshape(rec, t.shape);
  });
}

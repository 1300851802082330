/**
 * Activation functions (fused unary kernels), with their derivatives as op compositions.
 */
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { add, erf, exp, gt, le, mul, neg, square, sub, tanh, unaryOp, where } from "./elementwise";
import { asTensor, type TensorLike } from "./util";
import { tidy } from "../core/engine";

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function sigmoid(x: TensorLike): Tensor {
  return unaryOp("sigmoid", x, undefined, (dy, _i, y) => [mul(dy, mul(y, sub(1, y)))]);
}

export function relu(x: TensorLike): Tensor {
  return unaryOp("relu", x, undefined, (dy, [a]) => [mul(dy, cast(gt(a, 0), dy.dtype))]);
}

/**
 * GELU (Hendrycks & Gimpel 2016). `approximate: 'none'` is x * Phi(x) with the exact erf
 * (BERT, ViT, torch default); `'tanh'` is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 * (GPT-2's "gelu_new").
 */
export function gelu(x: TensorLike, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate === "tanh") {
    return unaryOp("gelu_tanh", x, undefined, (dy, [a]) => {
      const a2 = square(a);
      const t = tanh(mul(add(a, mul(mul(a2, a), 0.044715)), SQRT_2_OVER_PI)); // tanh(u)
      const du = mul(add(mul(a2, 3 * 0.044715), 1), SQRT_2_OVER_PI); // du/dx
      const d = add(mul(add(t, 1), 0.5), mul(mul(mul(a, 0.5), sub(1, square(t))), du));
      return [mul(dy, d)];
    });
  }
  return unaryOp("gelu", x, undefined, (dy, [a]) => {
    const cdf = mul(add(erf(mul(a, SQRT1_2)), 1), 0.5); // Phi(x)
    const pdf = mul(exp(mul(square(a), -0.5)), INV_SQRT_2PI); // phi(x)
    return [mul(dy, add(cdf, mul(a, pdf)))];
  });
}

/** SiLU / swish: x * sigmoid(x). d/dx = s (1 + x (1 - s)). */
export function silu(x: TensorLike): Tensor {
  return unaryOp("silu", x, undefined, (dy, [a]) => {
    const s = sigmoid(a);
    return [mul(dy, mul(s, add(mul(a, sub(1, s)), 1)))];
  });
}

/** log(1 + exp(beta x)) / beta, linear above `threshold` (torch.nn.functional.softplus). */
export function softplus(x: TensorLike, beta = 1, threshold = 20): Tensor {
  return unaryOp("softplus", x, { beta, threshold }, (dy, [a]) => {
    const bx = mul(a, beta);
    return [mul(dy, where(gt(bx, threshold), 1, sigmoid(bx)))];
  });
}

/** log(sigmoid(x)) = -softplus(-x), stable for large |x| (torch.nn.functional.logsigmoid). */
export function logSigmoid(x: TensorLike): Tensor {
  const t = asTensor("logSigmoid", "x", x);
  return tidy(() => neg(softplus(neg(t))));
}

/** x if x > 0 else alpha (exp(x) - 1). */
export function elu(x: TensorLike, alpha = 1): Tensor {
  return unaryOp("elu", x, { alpha }, (dy, [a], y) => [mul(dy, where(le(a, 0), add(y, alpha), 1))]);
}

/** x if x > 0 else slope * x (a composition: its gradient comes from where and mul). */
export function leakyRelu(x: TensorLike, slope = 0.01): Tensor {
  const t = asTensor("leakyRelu", "x", x);
  return tidy(() => where(gt(t, 0), t, mul(t, slope)));
}

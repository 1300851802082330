/**
 * Gradient estimators through the non-differentiable nearest-code choice.
 *  - straight-through (van den Oord et al. 2017): out = x + sg(q - x); value q, d out/dx = I.
 *  - rotation trick (Fifty et al. 2024, arXiv 2410.06424 §4.2, as vector-quantize-pytorch's
 *    efficient_rotation_trick_transform): with u = x/|x|, q^ = q/|q|, w = sg(normalize(u + q^)),
 *      out = sg(|q| / |x|) (x - 2 (x.w) w + 2 (x.sg(u)) sg(q^))
 *    a rotation taking u to q^ times a rescaling: the value is q, and gradients reach x rotated
 *    and scaled like x itself.
 */
import { add, div, mul, sqrt, square, stopGradient, sub, sum, type Tensor } from "@tessera/tensor";

export function straightThrough(x: Tensor, q: Tensor): Tensor {
  return add(x, stopGradient(sub(q, x)));
}

const norm = (t: Tensor) => sqrt(add(sum(square(t), -1, { keepdims: true }), 1e-20));

export function rotationTrick(x: Tensor, q: Tensor): Tensor {
  const nx = norm(x);
  const nq = stopGradient(norm(q));
  const u = div(x, nx);
  const qh = stopGradient(div(q, nq));
  const uq = add(u, qh);
  const w = stopGradient(div(uq, norm(uq)));
  const dot = (a: Tensor, b: Tensor) => sum(mul(a, b), -1, { keepdims: true });
  const rotated = add(sub(x, mul(mul(dot(x, w), w), 2)), mul(mul(dot(x, stopGradient(u)), qh), 2));
  return mul(rotated, stopGradient(div(nq, nx)));
}

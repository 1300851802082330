/**
 * Quantization-aware training.
 *  - fakeQuantize(x, format): the forward pass sees dequantize(quantize(x)); the backward pass is
 *    the straight-through estimator (Bengio et al. 2013): the gradient passes unchanged (every
 *    format here scales to the tensor's own range, so nothing is clipped).
 *  - lsqQuantize(x, step, bits): LSQ (Esser et al. 2020), a learned step size s:
 *      v = x / s,  x^ = round(clamp(v, -Qn, Qp)) s,  Qn = 2^(b-1), Qp = 2^(b-1) - 1
 *      dx^/dx = 1 inside [-Qn, Qp], 0 outside
 *      dx^/ds = round(v) - v inside, -Qn or Qp outside, times g = 1 / sqrt(N Qp) (the paper's
 *      gradient scale, N = number of elements)
 *    Runs on every backend (tensor ops); the step is a tensor of shape [] (per tensor) or
 *    broadcastable to x (per channel).
 */
import { clamp, customGrad, div, ge, le, logicalAnd, mul, round, sub, sumTo, tensor, where, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import type { QuantFormat } from "../formats/types";
import { quantize } from "../quantized-tensor";

export function fakeQuantize(x: Tensor, format: QuantFormat): Tensor {
  return customGrad((input: Tensor) => {
    const q = quantize(input, format);
    return { value: tensor(q.values(), { shape: [...input.shape], backend: input.backend }), grad: (dy: Tensor) => [dy] };
  }, "fakeQuantize")(x);
}

export function lsqQuantize(x: Tensor, step: Tensor, bits: number): Tensor {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) fail("lsqQuantize", `bits must be an integer in [2, 16], got ${bits}`);
  const Qn = 2 ** (bits - 1);
  const Qp = 2 ** (bits - 1) - 1;
  const g = 1 / Math.sqrt(x.size * Qp);
  return customGrad((input: Tensor, s: Tensor) => {
    const v = div(input, s);
    const inside = logicalAnd(ge(v, -Qn), le(v, Qp));
    const value = mul(round(clamp(v, -Qn, Qp)), s);
    return {
      value,
      grad: (dy: Tensor) => {
        const dx = where(inside, dy, 0);
        const local = where(inside, sub(round(v), v), where(ge(v, 0), Qp, -Qn));
        const ds = sumTo(mul(mul(dy, local), g), s.shape);
        return [dx, ds];
      },
    };
  }, "lsqQuantize")(x, step);
}

/** LSQ's initial step: 2 mean|x| / sqrt(Qp). */
export function lsqInitStep(x: Tensor, bits: number): number {
  const Qp = 2 ** (bits - 1) - 1;
  const v = x.dataSync();
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.abs(v[i]);
  return (2 * (s / v.length)) / Math.sqrt(Qp);
}

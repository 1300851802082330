/**
 * Attentional biases (Miras, Behrouz et al. 2025, section 3.1): the inner loss a memory fits,
 * given its prediction p = M(k) and the target v, as the gradient dl/dp it hands the optimiser.
 *
 *   dot      l = -<p, v>                      dl/dp = -v           (-> linear attention)
 *   l2       l = 1/2 ||p - v||^2              dl/dp = p - v        (-> the delta rule)
 *   lp       l = sum |p - v|^p                dl/dp = p sign(e) |e|^(p-1), sign smoothed as tanh(a e) (Moneta)
 *   huber    l = Huber_delta(||p - v||)       dl/dp = e if ||e|| <= delta, else delta e / ||e||   (Yaad)
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fail } from "../util";

export type AttentionalBias = "dot" | "l2" | { lp: number; smooth?: number } | { huber: number };

export function checkBias(b: AttentionalBias): void {
  if (b === "dot" || b === "l2") return;
  if (typeof b === "object" && "lp" in b) {
    if (!(b.lp >= 1)) fail("associativeMemory", `lp bias needs p >= 1, got ${b.lp}`);
    return;
  }
  if (typeof b === "object" && "huber" in b) {
    if (!(b.huber > 0)) fail("associativeMemory", `huber bias needs delta > 0, got ${b.huber}`);
    return;
  }
  fail("associativeMemory", `unknown attentional bias ${JSON.stringify(b)} (dot, l2, {lp}, {huber})`);
}

/** dl/dp for predictions p and targets v [..., V]. */
export function biasGradient(bias: AttentionalBias, p: Tensor, v: Tensor): Tensor {
  if (bias === "dot") return T.neg(v);
  const e = T.sub(p, v);
  if (bias === "l2") return e;
  if ("lp" in bias) {
    const sgn = bias.smooth ? T.tanh(T.mul(e, bias.smooth)) : T.sign(e);
    return T.mul(T.mul(sgn, T.pow(T.add(T.abs(e), 1e-12), bias.lp - 1)), bias.lp);
  }
  const norm = T.sqrt(T.add(T.sum(T.square(e), -1, { keepdims: true }), 1e-12)); // ||e||
  return T.mul(e, T.minimum(1, T.div(bias.huber, norm)));
}

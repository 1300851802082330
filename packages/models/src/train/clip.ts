/**
 * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (Pascanu et al. 2013):
 * total = sqrt(sum_p ||g_p||^2); if total > maxNorm every gradient is scaled by
 * maxNorm / (total + 1e-6).
 */
import { mul, sqrt, square, sum, tidy, add, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";

export async function clipGradNorm<G extends Record<string, Tensor>>(grads: G, maxNorm: number): Promise<{ grads: G; totalNorm: number }> {
  if (!(maxNorm > 0)) fail("clipGradNorm", `maxNorm must be positive, got ${maxNorm}`);
  const list = Object.values(grads);
  const t = tidy(() => sqrt(list.map((g) => sum(square(g))).reduce((a, b) => add(a, b))));
  const totalNorm = await t.item();
  t.dispose();
  const coef = maxNorm / (totalNorm + 1e-6);
  if (coef >= 1) return { grads, totalNorm };
  const out = tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, mul(g, coef)])) as G);
  return { grads: out, totalNorm };
}

/**
 * Gated RMSNorm, in both orders:
 *   gate first (mamba_ssm `RMSNormGated`, norm_before_gate = False; Mamba-2):  rmsnorm(x * silu(z)) * w
 *   norm first (flash-linear-attention `FusedRMSNormGated`; RetNet, GLA, Gated DeltaNet):  rmsnorm(x) * w * silu(z)
 * normalised over groups of `groupSize` channels (the whole last axis by default).
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fail, shp } from "./util";

export function gatedRmsNorm(x: Tensor, z: Tensor | null, weight: Tensor | null, eps = 1e-5, groupSize?: number, normBeforeGate = false): Tensor {
  const D = x.shape[x.rank - 1];
  const gs = groupSize ?? D;
  if (!Number.isInteger(gs) || gs < 1 || D % gs !== 0) fail("gatedRmsNorm", `groupSize ${gs} must divide the last axis of x ${shp(x)}`);
  if (z && z.shape.join() !== x.shape.join()) fail("gatedRmsNorm", `gate z ${shp(z)} must match x ${shp(x)}`);
  const gated = z && !normBeforeGate ? T.mul(x, T.silu(z)) : x;
  const grouped = gs === D ? gated : T.reshape(gated, [...x.shape.slice(0, -1), D / gs, gs]);
  const normed = T.reshape(T.rmsNorm(grouped, null, eps), x.shape);
  const scaled = weight ? T.mul(normed, weight) : normed;
  return z && normBeforeGate ? T.mul(scaled, T.silu(z)) : scaled;
}

/** Gated RMSNorm as a module: parameter `weight` [dim] (named as in mamba_ssm and HF). */
export class GatedRMSNorm extends T.Module {
  readonly weight: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
    readonly groupSize?: number,
    opts: { backend?: string; normBeforeGate?: boolean } = {},
  ) {
    super();
    this.weight = this.registerParameter("weight", T.ones([dim], { backend: opts.backend }));
    this.normBeforeGate = opts.normBeforeGate ?? false;
  }

  readonly normBeforeGate: boolean;

  forward(x: Tensor, z: Tensor | null): Tensor {
    return gatedRmsNorm(x, z, this.weight, this.eps, this.groupSize, this.normBeforeGate);
  }
}

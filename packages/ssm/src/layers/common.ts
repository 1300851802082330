/** Pieces the linear-attention layers share: head reshapes, short convolutions, position state. */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { CausalConv1d } from "../conv";
import { fail, positiveInt, shp } from "../util";

/** [B, T, H*D] -> [B, H, T, D] */
export function splitHeads(x: Tensor, H: number): Tensor {
  const [Bb, Tn, HD] = x.shape;
  return T.transpose(T.reshape(x, [Bb, Tn, H, HD / H]), 1, 2);
}

/** [B, H, T, D] -> [B, T, H*D] */
export function mergeHeads(x: Tensor): Tensor {
  const [Bb, H, Tn, D] = x.shape;
  return T.reshape(T.transpose(x, 1, 2), [Bb, Tn, H * D]);
}

/** [B, H*D] -> [B, H, D] */
export function stepHeads(x: Tensor, H: number): Tensor {
  return T.reshape(x, [x.shape[0], H, x.shape[1] / H]);
}

export function checkInput(op: string, x: Tensor, dModel: number, step: boolean): void {
  if (step ? x.rank !== 2 || x.shape[1] !== dModel : x.rank !== 3 || x.shape[2] !== dModel) {
    fail(op, `input ${shp(x)} must be ${step ? "[B, dModel" : "[B, T, dModel"} = ${dModel}]`);
  }
}

/** A short depthwise causal convolution over [B, T, C] features with SiLU (FLA ShortConvolution). */
export class ShortConvolution extends CausalConv1d {
  constructor(channels: number, kernelSize: number, opts: T.InitOptions = {}) {
    super(channels, kernelSize, { ...opts, bias: false });
  }

  /** x [B, T, C] -> [B, T, C] and the new state [B, C, K-1]. */
  run(x: Tensor, state?: Tensor | null): { y: Tensor; state: Tensor } {
    const r = this.forward(T.transpose(x, 1, 2), state, "silu");
    return { y: T.transpose(r.y, 1, 2), state: r.state };
  }

  /** x [B, C] -> [B, C]. */
  runStep(x: Tensor, state: Tensor): { y: Tensor; state: Tensor } {
    return this.step(x, state, "silu");
  }

  zeroState(batch: number): Tensor {
    return T.zeros([batch, this.channels, this.kernelSize - 1], { backend: this.weight.backend });
  }
}

/** Rotary embedding of [B, H, T, D] at positions offset .. offset + T - 1. */
export function rotate(x: Tensor, offset: number, base: number): Tensor {
  return T.rope(x, { offset, base });
}

/** What every multi-head linear-attention layer derives from its options. */
export interface HeadLayout {
  /** Total key and value widths. */
  kd: number;
  vd: number;
  headK: number;
  headV: number;
  gen: T.Generator | undefined;
  /** A Linear layer with the layer's generator and backend (bias off unless asked). */
  lin: (inF: number, outF: number, bias?: boolean) => T.Linear;
}

export function headLayout(
  op: string,
  o: { dModel: number; expandK?: number; expandV?: number; seed?: number | T.Generator; backend?: string },
  numHeads: number,
  expandK: number,
  expandV: number,
): HeadLayout {
  positiveInt(op, "dModel", o.dModel);
  positiveInt(op, "numHeads", numHeads);
  const kd = Math.round(o.dModel * (o.expandK ?? expandK));
  const vd = Math.round(o.dModel * (o.expandV ?? expandV));
  if (kd % numHeads || vd % numHeads) fail(op, `key width ${kd} and value width ${vd} must be multiples of numHeads ${numHeads}`);
  const gen = typeof o.seed === "number" ? new T.Generator(o.seed) : o.seed;
  return { kd, vd, headK: kd / numHeads, headV: vd / numHeads, gen, lin: (i, out, bias = false) => new T.Linear(i, out, { bias, seed: gen, backend: o.backend }) };
}

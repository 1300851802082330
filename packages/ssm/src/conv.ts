/**
 * Depthwise causal 1-D convolution with a carried state: the short convolution in front of
 * Mamba's scan (and of Mamba-2, GLA, DeltaNet layers as "ShortConvolution"). The state is the
 * last K-1 inputs, so a sequence can be processed whole, in pieces, or one token at a time
 * (causal-conv1d's `causal_conv1d_fn` / `causal_conv1d_update`).
 *
 *   y[b, c, t] = bias[c] + sum_{k<K} w[c, k] x[b, c, t - (K-1) + k]   (x before t = 0: the state)
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { checkTensors, expectShape, fail, shp } from "./util";

export interface CausalConvOptions {
  bias?: Tensor | null;
  /** The previous K-1 inputs [B, C, K-1] (default zeros: the sequence starts here). */
  state?: Tensor | null;
  /** Applied to the output (Mamba uses 'silu'). */
  activation?: "silu" | null;
}

/** weight as [C, K] from [C, 1, K] (PyTorch Conv1d depthwise layout) or [C, K]. */
function kernel2d(op: string, weight: Tensor, C: number): Tensor {
  if (weight.rank === 3 && weight.shape[1] === 1 && weight.shape[0] === C) return T.reshape(weight, [C, weight.shape[2]]);
  if (weight.rank === 2 && weight.shape[0] === C) return weight;
  fail(op, `weight ${shp(weight)} must be [C, 1, K] or [C, K] with C = ${C}`);
}

function activate(y: Tensor, act: "silu" | null | undefined): Tensor {
  if (act === "silu") return T.silu(y);
  if (act) fail("causalConv1d", `unknown activation '${String(act)}' (supported: 'silu')`);
  return y;
}

/** x [B, C, L] -> y [B, C, L] and the new state [B, C, K-1]. */
export function causalConv1d(x: Tensor, weight: Tensor, opts: CausalConvOptions = {}): { y: Tensor; state: Tensor } {
  const op = "causalConv1d";
  checkTensors(op, x, { x, weight, bias: opts.bias, state: opts.state });
  if (x.rank !== 3) fail(op, `x ${shp(x)} must be [B, C, L]`);
  const [Bb, C, L] = x.shape;
  const w = kernel2d(op, weight, C); // [C, K]
  const K = w.shape[1];
  if (opts.bias) expectShape(op, "bias", opts.bias, [C], `[C] = [${C}]`);
  if (opts.state) expectShape(op, "state", opts.state, [Bb, C, K - 1], `[B, C, K-1] = [${Bb},${C},${K - 1}]`);
  const past = opts.state ?? T.zeros([Bb, C, K - 1], { backend: x.backend, dtype: x.dtype });
  const padded = T.concat([past, x], 2); // [B, C, K-1+L]
  const y = T.conv1d(padded, T.reshape(w, [C, 1, K]), opts.bias ?? null, { groups: C }); // [B, C, L]
  const state = T.narrow(padded, 2, L, K - 1); // the last K-1 inputs
  return { y: activate(y, opts.activation), state };
}

/** One token: x [B, C] -> y [B, C] and the new state [B, C, K-1]. */
export function causalConv1dStep(x: Tensor, state: Tensor, weight: Tensor, opts: Omit<CausalConvOptions, "state"> = {}): { y: Tensor; state: Tensor } {
  const op = "causalConv1dStep";
  checkTensors(op, x, { x, state, weight, bias: opts.bias });
  if (x.rank !== 2) fail(op, `x ${shp(x)} must be [B, C]`);
  const [Bb, C] = x.shape;
  const w = kernel2d(op, weight, C); // [C, K]
  const K = w.shape[1];
  expectShape(op, "state", state, [Bb, C, K - 1], `[B, C, K-1] = [${Bb},${C},${K - 1}]`);
  const window = T.concat([state, T.unsqueeze(x, -1)], 2); // [B, C, K]
  let y = T.sum(T.mul(window, w), -1); // [B, C]
  if (opts.bias) {
    expectShape(op, "bias", opts.bias, [C], `[C] = [${C}]`);
    y = T.add(y, opts.bias);
  }
  return { y: activate(y, opts.activation), state: T.narrow(window, 2, 1, K - 1) };
}

/** Depthwise causal Conv1d with PyTorch's parameter names (weight [C, 1, K], bias [C]) and init. */
export class CausalConv1d extends T.Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly channels: number,
    readonly kernelSize: number,
    opts: T.InitOptions & { bias?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(channels) || channels < 1 || !Number.isInteger(kernelSize) || kernelSize < 1) {
      fail("CausalConv1d", `channels and kernelSize must be positive integers, got ${channels}, ${kernelSize}`);
    }
    const bound = 1 / Math.sqrt(kernelSize); // kaiming_uniform(a = sqrt 5) with fan_in = K
    const gen = typeof opts.seed === "number" ? new T.Generator(opts.seed) : opts.seed;
    const o = { dtype: opts.dtype, backend: opts.backend, seed: gen };
    this.weight = this.registerParameter("weight", T.uniform([channels, 1, kernelSize], -bound, bound, o));
    this.bias = opts.bias === false ? null : this.registerParameter("bias", T.uniform([channels], -bound, bound, o));
  }

  forward(x: Tensor, state?: Tensor | null, activation?: "silu" | null): { y: Tensor; state: Tensor } {
    return causalConv1d(x, this.weight, { bias: this.bias, state, activation });
  }

  step(x: Tensor, state: Tensor, activation?: "silu" | null): { y: Tensor; state: Tensor } {
    return causalConv1dStep(x, state, this.weight, { bias: this.bias, activation });
  }
}

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

/** Registry name of the fused one-token convolution (causalConv1dStep; inference only). */
export const CAUSAL_CONV1D_UPDATE = "ssm.causalConv1dUpdate";

/** causalConv1dStep's float32 inputs as the kernel gets them: x [B, C], state [B, C, K-1], weight [C, K] (a [C, 1, K] weight reshaped), bias [C] or null. */
export interface ConvUpdateInputs {
  x: Tensor;
  state: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  silu: boolean;
}

export interface ConvUpdateKernel {
  /** Whether it serves these inputs (else the composed form runs); asked before the counted lookup. */
  applies(t: ConvUpdateInputs): boolean;
  /** y [B, C] and the new state [B, C, K-1] in one pass (called where no gradient is recorded). */
  run(t: ConvUpdateInputs): { y: Tensor; state: Tensor };
}

/**
 * The cpu kernel (causal-conv1d's `causal_conv1d_update`): one loop over the channels instead of
 * a concat, a product, a sum, a bias add and a silu over [B, C, K] (the composed form below).
 */
const cpuConvUpdate: ConvUpdateKernel = {
  applies: () => true,
  run({ x, state, weight, bias, silu }) {
    const [Bb, C] = x.shape;
    const K = weight.shape[1];
    const [xs, st, w] = [T.float32Values(x), T.float32Values(state), T.float32Values(weight)];
    const b = bias ? T.float32Values(bias) : null;
    const y = new Float32Array(Bb * C);
    const next = new Float32Array(Bb * C * (K - 1));
    for (let r = 0; r < Bb * C; r++) {
      const c = r % C;
      const s0 = r * (K - 1);
      const xv = xs[r];
      let acc = b ? b[c] : 0;
      for (let k = 0; k < K - 1; k++) acc += w[c * K + k] * st[s0 + k];
      acc += w[c * K + K - 1] * xv;
      y[r] = acc;
      for (let k = 0; k < K - 2; k++) next[s0 + k] = st[s0 + k + 1];
      if (K > 1) next[s0 + K - 2] = xv;
    }
    const nextState = T.tensor(next, { shape: [Bb, C, K - 1], backend: "cpu" });
    const pre = T.tensor(y, { shape: [Bb, C], backend: "cpu" });
    if (!silu) return { y: pre, state: nextState };
    // the activation as the composed form applies it (the cpu's SIMD silu from 1024 values: Math.exp per channel took ~1 ms of a Mamba-130M step)
    const out = T.silu(pre);
    pre.dispose();
    return { y: out, state: nextState };
  },
};
T.registerKernel(CAUSAL_CONV1D_UPDATE, "cpu", cpuConvUpdate);

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
  // the last K-1 inputs, copied: a view would keep all of padded [B, C, K-1+L] alive with the state
  // (a 2048-token Mamba-130M prompt: 300 MB over 24 layers) and make the first step gather from it
  const state = T.contiguous(T.narrow(padded, 2, L, K - 1));
  return { y: activate(y, opts.activation), state };
}

/**
 * One token: x [B, C] -> y [B, C] and the new state [B, C, K-1]. Where no gradient is recorded, a
 * kernel registered as CAUSAL_CONV1D_UPDATE for the backend serves it in one pass (cpu: above).
 */
export function causalConv1dStep(x: Tensor, state: Tensor, weight: Tensor, opts: Omit<CausalConvOptions, "state"> = {}): { y: Tensor; state: Tensor } {
  const op = "causalConv1dStep";
  checkTensors(op, x, { x, state, weight, bias: opts.bias });
  if (x.rank !== 2) fail(op, `x ${shp(x)} must be [B, C]`);
  const [Bb, C] = x.shape;
  const w = kernel2d(op, weight, C); // [C, K]
  const K = w.shape[1];
  expectShape(op, "state", state, [Bb, C, K - 1], `[B, C, K-1] = [${Bb},${C},${K - 1}]`);
  if (opts.bias) expectShape(op, "bias", opts.bias, [C], `[C] = [${C}]`);
  if (opts.activation && opts.activation !== "silu") fail(op, `unknown activation '${String(opts.activation)}' (supported: 'silu')`);
  const inputs = [x, state, w, ...(opts.bias ? [opts.bias] : [])];
  if (inputs.every((t) => t.dtype === "float32" && t.backend === x.backend) && !T.isRecording(inputs)) {
    const t: ConvUpdateInputs = { x, state, weight: w, bias: opts.bias ?? null, silu: opts.activation === "silu" };
    const k = T.getKernel<ConvUpdateKernel>(CAUSAL_CONV1D_UPDATE, x.backend, { count: false });
    if (k?.applies(t)) {
      T.getKernel(CAUSAL_CONV1D_UPDATE, x.backend); // counted in kernelStats as the kernel that ran
      return k.run(t);
    }
  }
  const window = T.concat([state, T.unsqueeze(x, -1)], 2); // [B, C, K]
  let y = T.sum(T.mul(window, w), -1); // [B, C]
  if (opts.bias) y = T.add(y, opts.bias);
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

/**
 * PoolFormer's token mixer (Yu et al. 2022, "MetaFormer Is Actually What You Need for Vision"),
 * in its causal 1-D form for sequences: y_t = mean(x_{t-k+1..t}) - x_t (the "- x" because the
 * block adds the residual). Positions before the start are left out of the mean, as
 * AvgPool's count_include_pad=False. No parameters; the state is the last k - 1 inputs.
 */
import { concat, cumsum, div, Module, narrow, pad, reshape, sub, tensor, type MixerState, type Tensor, type TokenMixer } from "@tessera/tensor";
import { fail } from "../errors";

export interface PoolState extends MixerState {
  pos: number;
}

export class PoolingMixer extends Module implements TokenMixer<PoolState> {
  constructor(readonly poolSize = 3) {
    super();
    if (!Number.isInteger(poolSize) || poolSize < 1) fail("PoolingMixer", `poolSize ${poolSize} must be a positive integer`);
  }

  initState(): PoolState {
    return { pos: 0 };
  }

  forward(x: Tensor, state?: PoolState): { y: Tensor; state: PoolState } {
    if (x.rank !== 3) fail("PoolingMixer", `input [${x.shape}] must be [B, T, D]`);
    const k = this.poolSize;
    const T = x.shape[1];
    const prev = state?.window as Tensor | undefined; // [B, <= k-1, D]
    const p = prev ? prev.shape[1] : 0;
    const full = prev ? concat([prev, x], 1) : x; // [B, p + T, D]
    // Window sums from a prefix sum padded with zeros: s_t = c_t - c_{t-k}.
    const c = pad(cumsum(full, 1), [
      [0, 0],
      [1, 0],
      [0, 0],
    ]); // [B, p + T + 1, D]
    const hi = narrow(c, 1, p + 1, T);
    const lo = narrow(
      pad(c, [
        [0, 0],
        [k, 0],
        [0, 0],
      ]),
      1,
      p + 1,
      T,
    ); // c_{t+1-k}, zero before the start
    const pos = state?.pos ?? 0;
    const counts = Array.from({ length: T }, (_, t) => Math.min(k, pos + t + 1)); // valid positions per window
    const mean = div(sub(hi, lo), reshape(tensor(counts, { backend: x.backend }), [1, T, 1]));
    const kept = Math.min(k - 1, p + T);
    const window = kept > 0 ? narrow(full, 1, p + T - kept, kept) : undefined;
    return { y: sub(mean, x), state: window ? { pos: pos + T, window } : { pos: pos + T } };
  }

  step(x: Tensor, state: PoolState): { y: Tensor; state: PoolState } {
    const r = this.forward(reshape(x, [x.shape[0], 1, x.shape[1]]), state);
    return { y: reshape(r.y, x.shape), state: r.state };
  }
}

/**
 * The causal depthwise convolution with a carried state: equals torch-style conv1d with causal
 * padding, in pieces and step by step; gradients; errors.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as S from "../src/index";

describe("causalConv1d", () => {
  const x = T.normal([2, 3, 11], 0, 1, { seed: 1 }); // [B, C, L]
  const w = T.normal([3, 1, 4], 0, 1, { seed: 2 });
  const bias = T.normal([3], 0, 1, { seed: 3 });

  it("equals conv1d with causal padding and groups = channels (+ SiLU)", async () => {
    const ref = T.conv1d(x, w, bias, { padding: "causal", groups: 3 });
    await assertClose(S.causalConv1d(x, w, { bias }).y, ref, { atol: 1e-6, rtol: 1e-6 });
    await assertClose(S.causalConv1d(x, T.reshape(w, [3, 4]), { bias, activation: "silu" }).y, T.silu(ref), { atol: 1e-6, rtol: 1e-6 });
  });

  it("pieces with the carried state and single steps equal the whole sequence", async () => {
    const whole = S.causalConv1d(x, w, { bias });
    const a = S.causalConv1d(T.narrow(x, 2, 0, 2), w, { bias }); // shorter than the kernel
    const b = S.causalConv1d(T.narrow(x, 2, 2, 9), w, { bias, state: a.state });
    await assertClose(T.concat([a.y, b.y], 2), whole.y, { atol: 1e-6, rtol: 1e-6 });
    await assertClose(b.state, whole.state, { atol: 0, rtol: 0 });
    let state = T.zeros([2, 3, 3]);
    const ys: T.Tensor[] = [];
    for (let t = 0; t < 11; t++) {
      const r = S.causalConv1dStep(T.select(x, 2, t), state, w, { bias });
      ys.push(r.y);
      state = r.state;
    }
    await assertClose(T.stack(ys, 2), whole.y, { atol: 1e-6, rtol: 1e-6 });
    await assertClose(state, whole.state, { atol: 0, rtol: 0 });
  });

  it("the carried state is a compact copy [B, C, K-1], not a view keeping the padded sequence alive", () => {
    const r = S.causalConv1d(x, w, { bias });
    expect(r.state.shape).toEqual([2, 3, 3]);
    expect(r.state.isContiguous).toBe(true);
    expect(r.state.storage.size).toBe(2 * 3 * 3); // not [2, 3, 3 + 11]
  });

  it("gradients (input, weight, bias, state) match finite differences; the module has PyTorch's names", async () => {
    const s0 = T.normal([2, 3, 3], 0, 1, { seed: 4 });
    const g = T.normal([2, 3, 5], 0, 1, { seed: 5 });
    await checkGrad((xx, ww, bb, ss) => T.sum(T.mul(S.causalConv1d(xx, ww, { bias: bb, state: ss, activation: "silu" }).y, g)), [T.narrow(x, 2, 0, 5), w, bias, s0]);
    const m = new S.CausalConv1d(3, 4, { seed: 1 });
    expect(Object.keys(m.namedParameters()).sort()).toEqual(["bias", "weight"]);
    expect(m.weight.shape).toEqual([3, 1, 4]);
  });

  it("the fused one-token kernel (cpu, no gradient recorded) equals the composed step: K 1, 2, 4; with and without bias and silu (kernel counted)", async () => {
    const KEY = "ssm.causalConv1dUpdate/cpu";
    const counted = () => T.kernelStats().kernel[KEY] ?? 0;
    for (const K of [1, 2, 4])
      for (const [withBias, act] of [
        [true, "silu"],
        [false, null],
        [true, null],
        [false, "silu"],
      ] as const) {
        const [Bb, C] = [3, 37];
        const xs = T.normal([Bb, C], 0, 1, { seed: 10 + K });
        const st = T.normal([Bb, C, K - 1], 0, 1, { seed: 20 + K });
        const ww = T.normal([C, 1, K], 0, 1, { seed: 30 + K });
        const bb = withBias ? T.normal([C], 0, 1, { seed: 40 + K }) : null;
        const before = counted();
        const got = S.causalConv1dStep(xs, st, ww, { bias: bb, activation: act });
        expect(counted()).toBe(before + 1);
        const want = T.withKernelPreference("reference", () => S.causalConv1dStep(xs, st, ww, { bias: bb, activation: act }));
        await assertClose(got.y, want.y, { atol: 1e-6, rtol: 1e-6, label: `K ${K} y` });
        await assertClose(got.state, want.state, { atol: 0, rtol: 0, label: `K ${K} state` });
      }
  });

  it("under a gradient the composed step runs: gradients of input, state, weight, bias match finite differences", async () => {
    const g = T.normal([2, 3], 0, 1, { seed: 6 });
    const f = (xx: T.Tensor, ss: T.Tensor, ww: T.Tensor, bb: T.Tensor) => T.sum(T.mul(S.causalConv1dStep(xx, ss, ww, { bias: bb, activation: "silu" }).y, g));
    const args = [T.select(x, 2, 4), T.normal([2, 3, 3], 0, 1, { seed: 7 }), w, bias];
    const before = T.kernelStats().kernel["ssm.causalConv1dUpdate/cpu"] ?? 0;
    T.grad(f)(...(args as [T.Tensor, T.Tensor, T.Tensor, T.Tensor])); // recorded: the kernel is not even looked up
    expect(T.kernelStats().kernel["ssm.causalConv1dUpdate/cpu"] ?? 0).toBe(before);
    await checkGrad(f, args); // (its finite differences, unrecorded, run the kernel)
  });

  it("clear errors", () => {
    expect(() => S.causalConv1d(T.zeros([2, 3]), w)).toThrow(/causalConv1d: x \[2,3\] must be \[B, C, L\]/);
    expect(() => S.causalConv1d(x, T.zeros([4, 1, 4]))).toThrow(/weight \[4,1,4\] must be \[C, 1, K\] or \[C, K\] with C = 3/);
    expect(() => S.causalConv1d(x, w, { state: T.zeros([2, 3, 2]) })).toThrow(/state \[2,3,2\] must be \[B, C, K-1\] = \[2,3,3\]/);
    expect(() => S.causalConv1d(x, w, { activation: "relu" as never })).toThrow(/unknown activation 'relu'/);
    expect(() => S.causalConv1dStep(T.zeros([2, 3]), T.zeros([2, 3, 2]), w)).toThrow(/causalConv1dStep: state \[2,3,2\]/);
    expect(() => S.causalConv1dStep(T.zeros([2, 3]), T.zeros([2, 3, 3]), w, { activation: "relu" as never })).toThrow(/causalConv1dStep: unknown activation 'relu'/);
  });
});

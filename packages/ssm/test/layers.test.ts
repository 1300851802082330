/**
 * The linear-attention token mixers (RetNet, GLA, DeltaNet, Gated DeltaNet): forward = forward
 * in pieces = step-by-step decoding, every form agrees, gradients match finite differences and
 * reach every parameter, parameter names follow flash-linear-attention, errors are clear.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as S from "../src/index";
import { inPieces, maxAbs, stepwise } from "./helpers";

interface Case {
  name: string;
  make: (seed: number) => T.TokenMixer & T.Module & { form: string };
  forms: string[];
  params: string[];
}

const CASES: Case[] = [
  {
    name: "MultiScaleRetention",
    make: (seed) => new S.MultiScaleRetention({ dModel: 16, numHeads: 2, chunkSize: 4, seed }),
    forms: ["chunkwise", "parallel", "recurrent"],
    params: ["g_norm_swish_gate.weight", "g_proj.weight", "k_proj.weight", "o_proj.weight", "q_proj.weight", "v_proj.weight"],
  },
  {
    name: "GatedLinearAttention",
    make: (seed) => new S.GatedLinearAttention({ dModel: 16, numHeads: 2, chunkSize: 4, gateLowRankDim: 4, seed }),
    forms: ["chunked", "recurrent"],
    params: [
      "g_norm_swish_gate.weight",
      "g_proj.weight",
      "gk_proj.0.weight",
      "gk_proj.1.bias",
      "gk_proj.1.weight",
      "k_proj.weight",
      "o_proj.weight",
      "q_proj.weight",
      "v_proj.weight",
    ],
  },
  {
    name: "DeltaNet",
    make: (seed) => new S.DeltaNet({ dModel: 16, numHeads: 2, chunkSize: 4, seed }),
    forms: ["chunked", "recurrent"],
    params: ["b_proj.weight", "k_conv1d.weight", "k_proj.weight", "o_norm.weight", "o_proj.weight", "q_conv1d.weight", "q_proj.weight", "v_conv1d.weight", "v_proj.weight"],
  },
  {
    name: "GatedDeltaNet",
    make: (seed) => new S.DeltaNet({ dModel: 16, numHeads: 2, chunkSize: 4, gated: true, expandV: 2, seed }),
    forms: ["chunked", "recurrent"],
    params: [
      "A_log",
      "a_proj.weight",
      "b_proj.weight",
      "dt_bias",
      "g_proj.weight",
      "k_conv1d.weight",
      "k_proj.weight",
      "o_norm.weight",
      "o_proj.weight",
      "q_conv1d.weight",
      "q_proj.weight",
      "v_conv1d.weight",
      "v_proj.weight",
    ],
  },
];

for (const c of CASES) {
  describe(c.name, () => {
    it("forward = pieces = steps; all forms agree (within 1e-5 relative)", async () => {
      const m = c.make(1);
      const x = T.normal([2, 11, 16], 0, 1, { seed: 2 });
      const whole = m.forward(x).y;
      const tol = { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 };
      await assertClose(inPieces(m, x, [3, 1, 7]), whole, { ...tol, label: "pieces" });
      await assertClose(stepwise(m, x), whole, { ...tol, label: "steps" });
      for (const form of c.forms.slice(1)) {
        m.form = form;
        await assertClose(m.forward(x).y, whole, { ...tol, label: form });
      }
    });

    it("gradients: finite differences for the input, every parameter reached; FLA names", async () => {
      const m = c.make(3);
      expect(Object.keys(m.namedParameters()).sort()).toEqual(c.params);
      const x = T.normal([1, 5, 16], 0, 1, { seed: 4 });
      const w = T.normal([1, 5, 16], 0, 1, { seed: 5 });
      await checkGrad((inp) => T.sum(T.mul(m.forward(inp).y, w)), [x], { eps: 1e-3, atol: 3e-3, rtol: 3e-2 }); // eps 1e-3: the per-head RMSNorm is strongly curved
      const { grads } = T.gradients(() => T.sum(T.mul(m.forward(x).y, w)), m.namedParameters());
      for (const [name, g] of Object.entries(grads)) expect(maxAbs(g), name).toBeGreaterThan(0);
    });

    it("clear errors for wrong input shapes", () => {
      const m = c.make(1);
      expect(() => m.forward(T.zeros([1, 3, 15]))).toThrow(/input \[1,3,15\] must be \[B, T, dModel = 16\]/);
      expect(() => m.step(T.zeros([1, 15]), m.initState(1))).toThrow(/step: input \[1,15\] must be \[B, dModel = 16\]/);
    });
  });
}

describe("layer options", () => {
  it("head widths must divide; rotary needs an even key width", () => {
    expect(() => new S.MultiScaleRetention({ dModel: 12, numHeads: 5 })).toThrow(/must be multiples of numHeads 5/);
    expect(() => new S.MultiScaleRetention({ dModel: 6, numHeads: 2 })).toThrow(/even head key width, got 3/);
    expect(() => new S.GatedLinearAttention({ dModel: 16, numHeads: 3 })).toThrow(/multiples of numHeads 3/);
  });

  it("RetNet without gate or rotary, DeltaNet without short convolutions still agree across faces", async () => {
    const x = T.normal([1, 9, 8], 0, 1, { seed: 1 });
    for (const m of [
      new S.MultiScaleRetention({ dModel: 8, numHeads: 2, outputGate: false, rotary: false, seed: 1 }),
      new S.DeltaNet({ dModel: 8, numHeads: 2, shortConv: false, seed: 1 }),
    ]) {
      const whole = m.forward(x).y;
      await assertClose(stepwise(m, x), whole, { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 });
    }
    expect(Object.keys(new S.MultiScaleRetention({ dModel: 8, numHeads: 2, outputGate: false }).namedParameters())).toContain("g_norm.weight");
  });
});

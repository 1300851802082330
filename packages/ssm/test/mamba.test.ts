/**
 * Mamba and Mamba-2 mixers against Hugging Face transformers (tiny random models in
 * fixtures/hf): block 0 maps hidden_states.0 to hidden_states.1 as
 * h1 = h0 + mixer(rmsNorm(h0)). Then forward = forward in pieces = step-by-step decoding, and
 * gradients through the mixer.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as S from "../src/index";
import { fixture, inPieces, maxAbs, stepwise } from "./helpers";

/** The tensors under `prefix`, with the prefix removed. */
function sub(weights: Record<string, T.Tensor>, prefix: string): Record<string, T.Tensor> {
  return Object.fromEntries(
    Object.entries(weights)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

interface Arch<M extends T.TokenMixer> {
  name: "mamba" | "mamba2";
  make: () => M & T.Module;
  setForm: (m: M, i: number) => string | null;
}

const ARCHS = [
  {
    name: "mamba",
    make: () => new S.MambaMixer({ dModel: 64, dState: 16, dConv: 4, expand: 2, dtRank: 4 }),
    setForm: (m: S.MambaMixer, i: number) => {
      const f = (["reference", "chunked", "associative", "fused"] as const)[i];
      if (f) m.scanImplementation = f;
      return f ?? null;
    },
  } satisfies Arch<S.MambaMixer>,
  {
    name: "mamba2",
    make: () => new S.Mamba2Mixer({ dModel: 64, dState: 16, dConv: 4, expand: 2, headDim: 16, nGroups: 1, chunkSize: 8 }),
    setForm: (m: S.Mamba2Mixer, i: number) => {
      const f = (["chunked", "parallel", "recurrent"] as const)[i];
      if (f) m.ssdForm = f;
      return f ?? null;
    },
  } satisfies Arch<S.Mamba2Mixer>,
];

for (const arch of ARCHS as unknown as Arch<T.TokenMixer>[]) {
  describe(`${arch.name} mixer against Hugging Face ${arch.name === "mamba" ? "MambaForCausalLM" : "Mamba2ForCausalLM"}`, () => {
    const load = (layer: number) => {
      const w = fixture("hf", arch.name, "model.safetensors");
      const m = arch.make();
      m.loadStateDict(sub(w, `backbone.layers.${layer}.mixer.`));
      return { m, w };
    };

    // transformers 5.17 records each block's output (no embedding entry): hidden_states.{i} is
    // block i's output, and the last entry is after norm_f.
    it("both blocks, norm_f and the logits reproduce the fixture with every form", async () => {
      const e = fixture("hf", arch.name, "expected.safetensors");
      for (let form = 0; ; form++) {
        let h = T.embedding(fixture("hf", arch.name, "model.safetensors")["backbone.embeddings.weight"], e.input_ids); // [2, 17, 64]
        let label: string | null = null;
        let w: Record<string, T.Tensor> = {};
        for (const layer of [0, 1]) {
          const l = load(layer);
          w = l.w;
          label = arch.setForm(l.m, form);
          if (!label) break;
          h = T.add(h, l.m.forward(T.rmsNorm(h, w[`backbone.layers.${layer}.norm.weight`], 1e-5)).y);
          if (layer === 0) await assertClose(h, e["hidden_states.0"], { atol: 1e-4, rtol: 0, label: `${label} block 0` });
        }
        if (!label) break;
        const hf = T.rmsNorm(h, w["backbone.norm_f.weight"], 1e-5);
        await assertClose(hf, e["hidden_states.2"], { atol: 1e-4, rtol: 0, label: `${label} norm_f` });
        const head = w["lm_head.weight"] ?? w["backbone.embeddings.weight"]; // Mamba ties the head
        await assertClose(T.matmul(hf, T.transpose(head, 0, 1)), e.logits, { atol: 1e-4, rtol: 0, label: `${label} logits` });
      }
    });

    it("forward = forward in pieces = step-by-step decoding (within 1e-5 relative)", async () => {
      const { m, w } = load(0);
      const e = fixture("hf", arch.name, "expected.safetensors");
      const x = T.rmsNorm(e["hidden_states.0"], w["backbone.layers.1.norm.weight"], 1e-5); // [2, 17, 64]
      const whole = m.forward(x).y;
      const tol = { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 };
      await assertClose(inPieces(m, x, [5, 1, 11]), whole, { ...tol, label: "pieces" });
      await assertClose(stepwise(m, x), whole, { ...tol, label: "steps" });
      for (let form = 1; arch.setForm(m, form); form++) await assertClose(inPieces(m, x, [9, 8]), whole, { ...tol, label: `pieces form ${form}` });
    });
  });
}

describe("MambaMixer", () => {
  it("one token after a state: the fused step on cpu ('auto'), the scan for an explicit implementation; both equal the whole forward", async () => {
    const m = new S.MambaMixer({ dModel: 16, dState: 8, seed: 3 });
    const x = T.normal([2, 7, 16], 0, 1, { seed: 4 });
    const whole = m.forward(x).y;
    const tol = { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 };
    const STEP = "ssm.selectiveStateUpdate/cpu";
    const steps = () => T.kernelStats().kernel[STEP] ?? 0;
    for (const impl of ["auto", "chunked"] as const) {
      m.scanImplementation = impl;
      const before = steps();
      await assertClose(inPieces(m, x, [4, 1, 1, 1]), whole, { ...tol, label: impl });
      expect(steps() - before).toBe(impl === "auto" ? 3 : 0);
    }
  });

  it("gradients through the mixer match finite differences; init follows mamba_ssm", async () => {
    const m = new S.MambaMixer({ dModel: 4, dState: 2, expand: 1, dConv: 2, seed: 3 });
    expect(Object.keys(m.namedParameters()).sort()).toEqual([
      "A_log",
      "D",
      "conv1d.bias",
      "conv1d.weight",
      "dt_proj.bias",
      "dt_proj.weight",
      "in_proj.weight",
      "out_proj.weight",
      "x_proj.weight",
    ]);
    expect(
      Array.from(m.A_log.dataSync())
        .slice(0, 2)
        .map((v) => Math.round(Math.exp(v) * 1e5) / 1e5),
    ).toEqual([1, 2]);
    const dt = T.softplus(m.dt_proj.bias!).dataSync();
    for (const v of dt) expect(v >= 1e-3 - 1e-7 && v <= 0.1 + 1e-7).toBe(true);
    const x = T.normal([1, 5, 4], 0, 1, { seed: 4 });
    const w = T.normal([1, 5, 4], 0, 1, { seed: 5 });
    await checkGrad((inp) => T.sum(T.mul(m.forward(inp).y, w)), [x]);
    const { value, grads } = T.gradients(() => T.sum(T.mul(m.forward(x).y, w)), m.namedParameters());
    expect(Number.isFinite(value.itemSync())).toBe(true);
    for (const [name, g] of Object.entries(grads)) expect(maxAbs(g), name).toBeGreaterThan(0);
  });

  it("clear errors for wrong input shapes", () => {
    const m = new S.MambaMixer({ dModel: 8, seed: 1 });
    expect(() => m.forward(T.zeros([1, 3, 7]))).toThrow(/MambaMixer: input \[1,3,7\] must be \[B, L, dModel = 8\]/);
    expect(() => m.step(T.zeros([1, 7]), m.initState(1))).toThrow(/MambaMixer.step: input \[1,7\]/);
    expect(() => new S.MambaMixer({ dModel: 0 })).toThrow(/dModel must be a positive integer/);
  });
});

describe("Mamba2Mixer", () => {
  it("gradients match finite differences; parameter names and init follow mamba_ssm", async () => {
    const m = new S.Mamba2Mixer({ dModel: 4, dState: 2, expand: 2, headDim: 2, nGroups: 2, dConv: 2, chunkSize: 3, seed: 3 });
    expect(Object.keys(m.namedParameters()).sort()).toEqual(["A_log", "D", "conv1d.bias", "conv1d.weight", "dt_bias", "in_proj.weight", "norm.weight", "out_proj.weight"]);
    for (const a of T.exp(m.A_log).dataSync()) expect(a >= 1 && a <= 16).toBe(true);
    const x = T.normal([1, 5, 4], 0, 1, { seed: 4 });
    const w = T.normal([1, 5, 4], 0, 1, { seed: 5 });
    await checkGrad((inp) => T.sum(T.mul(m.forward(inp).y, w)), [x]);
    const { grads } = T.gradients(() => T.sum(T.mul(m.forward(x).y, w)), m.namedParameters());
    for (const [name, g] of Object.entries(grads)) expect(maxAbs(g), name).toBeGreaterThan(0);
  });

  it("dtLimit clamps dt: a [c, c] limit equals dt fixed at c through the weights", async () => {
    const opts = { dModel: 8, dState: 4, headDim: 4, chunkSize: 4, seed: 2 };
    const clamped = new S.Mamba2Mixer({ ...opts, dtLimit: [0.02, 0.02] });
    const fixed = new S.Mamba2Mixer(opts);
    const H = fixed.nHeads;
    const W = fixed.in_proj.weight; // rows [z | xBC | dt]
    T.assign(W, T.concat([T.narrow(W, 0, 0, W.shape[0] - H), T.zeros([H, 8])], 0)); // dt input 0
    T.assign(fixed.dt_bias, T.full([H], Math.log(Math.expm1(0.02)))); // softplus(bias) = 0.02
    const x = T.normal([1, 6, 8], 0, 1, { seed: 3 });
    const a = clamped.forward(x).y;
    await assertClose(a, fixed.forward(x).y, { atol: 1e-5 * maxAbs(a), rtol: 1e-5 });
    expect(maxAbs(T.sub(a, new S.Mamba2Mixer(opts).forward(x).y))).toBeGreaterThan(1e-3);
  });

  it("nGroups > 1 matches the recurrent reference and decoding; errors", async () => {
    const m = new S.Mamba2Mixer({ dModel: 8, dState: 4, headDim: 4, nGroups: 2, chunkSize: 4, dtLimit: [0.01, 0.05], seed: 9 });
    const x = T.normal([2, 11, 8], 0, 1, { seed: 1 });
    const chunked = m.forward(x).y;
    m.ssdForm = "recurrent";
    await assertClose(chunked, m.forward(x).y, { atol: 1e-5 * maxAbs(chunked), rtol: 1e-5 });
    await assertClose(stepwise(m, x), chunked, { atol: 1e-5 * maxAbs(chunked), rtol: 1e-5 });
    expect(() => new S.Mamba2Mixer({ dModel: 8, headDim: 5 })).toThrow(/d_inner 16 must be a multiple of headDim 5/);
    expect(() => new S.Mamba2Mixer({ dModel: 8, headDim: 4, nGroups: 3 })).toThrow(/nGroups 3 must divide the number of heads 4/);
    expect(() => m.forward(T.zeros([1, 2, 3]))).toThrow(/Mamba2Mixer: input \[1,2,3\]/);
  });
});

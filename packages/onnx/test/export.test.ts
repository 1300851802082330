/**
 * Every exported model runs in onnxruntime-node and agrees with Tessera: logits within 1e-4
 * (prefill, and 8 decode steps through the cache for the causal LMs), greedy generation through
 * ORT's cache identical to `generate`; float16-stored weights against Tessera on the same rounded
 * weights. Figures are printed (max abs logits error per model).
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assign, cast, normal, tidy, type Module } from "@tessera/tensor";
import { generate, modelFromConfig, type CausalLM, type HFInfo, type Pretrained } from "@tessera/models";
import { loadPretrained } from "@tessera/models/node";
import { decodeModel, exportOnnx, type ExportOptions } from "../src/index";
import { CONFIGS } from "./configs";
import { compareBert, compareCausal, compareViT, HF, ortGreedy, session } from "./ort";

const TOL = 1e-4;
const figures: string[] = [];
afterAll(() => console.log(`ORT agreement (max abs logits error):\n${figures.join("\n")}`));

function fixture(name: string): Pretrained {
  return loadPretrained(join(HF, name));
}
function random(name: string, seed = 7): Pretrained {
  return modelFromConfig(CONFIGS[name], { seed });
}

/** Rounds every float parameter to float16 and back (what a float16-stored export holds). */
function roundToHalf(m: Module): void {
  for (const t of m.parameters()) tidy(() => assign(t, cast(cast(t, "float16"), "float32")));
}

async function causalCase(label: string, p: Pretrained, o: ExportOptions = {}) {
  const model = p.model as CausalLM;
  const pre = await exportOnnx(model, p.info, o);
  const dec = await exportOnnx(model, p.info, { ...o, decode: true });
  const usesPositions = pre.inputs.some((i) => i.name === "position_ids");
  const V = model.vocabSize;
  const prompt = [[1, 5, 2, 7, 3].map((t) => t % V), [4, 0, 6, 2, 1].map((t) => t % V)];
  const [sp, sd] = [await session(pre.bytes), await session(dec.bytes)];
  const r = await compareCausal(model, sp, sd, prompt, 8, usesPositions);
  figures.push(
    `${label}: prefill ${r.prefill.toExponential(2)}, decode ${r.decode.toExponential(2)} (prefill ${(pre.bytes.length / 1024).toFixed(0)} KiB, decode ${(dec.bytes.length / 1024).toFixed(0)} KiB)`,
  );
  expect(r.prefill).toBeLessThan(TOL);
  expect(r.decode).toBeLessThan(TOL);
  // Greedy generation through ORT's cache equals Tessera's generate.
  const want = await generate(model, [prompt[0]], { maxNewTokens: 10 });
  expect(await ortGreedy(sp, sd, prompt[0], 10, usesPositions, V)).toEqual(want.generated[0]);
  await sp.release();
  await sd.release();
  return { pre, dec };
}

describe("causal LMs in onnxruntime-node", () => {
  for (const name of ["gpt2", "llama"]) {
    it(`fixture ${name}: prefill + 8 decode steps, greedy generation`, async () => {
      const p = fixture(name);
      const { pre, dec } = await causalCase(`fixture ${name} float32`, p);
      const L = (p.model as CausalLM).blocks.length;
      // Hugging Face optimum's names.
      const m = decodeModel(dec.bytes);
      const ins = m.graph.inputs.map((i) => i.name);
      const outs = m.graph.outputs.map((i) => i.name);
      expect(ins.slice(0, 2)).toEqual(["input_ids", "attention_mask"]);
      for (let l = 0; l < L; l++) {
        expect(ins).toContain(`past_key_values.${l}.key`);
        expect(ins).toContain(`past_key_values.${l}.value`);
        expect(outs).toContain(`present.${l}.key`);
        expect(outs).toContain(`present.${l}.value`);
      }
      expect(outs[0]).toBe("logits");
      expect(decodeModel(pre.bytes).graph.inputs.map((i) => i.name)).toEqual(["input_ids", "attention_mask", "position_ids"]);
      p.model.dispose();
    });

    it(`fixture ${name}: float16 weights (half the file)`, async () => {
      const p = fixture(name);
      const f32 = await exportOnnx(p.model, p.info);
      roundToHalf(p.model);
      const { pre } = await causalCase(`fixture ${name} float16`, p, { dtype: "float16" });
      expect(pre.weightBytes).toBeLessThan(f32.weightBytes * 0.55);
      p.model.dispose();
    });
  }

  for (const name of ["gpt2", "llama", "mistral", "qwen2"]) {
    it(`random ${name} (${name === "llama" ? "GQA 6:2, head_dim 10" : name === "mistral" ? "sliding window 4, GQA 4:1" : name === "qwen2" ? "qkv biases, linear rope scaling" : "3 heads, n_inner 40"})`, async () => {
      const p = random(name);
      await causalCase(`random ${name} float32`, p);
      p.model.dispose();
    });
  }

  it("opsets 18 and 20 (ReduceMean axes as input, the Gelu op)", async () => {
    for (const opset of [18, 20]) {
      for (const name of ["gpt2", "llama"]) {
        const p = random(name, 3);
        await causalCase(`random ${name} opset ${opset}`, p, { opset });
        p.model.dispose();
      }
    }
  });

  it("GPT-2 with sigmoid attention (a SelfAttention kind) exports", async () => {
    const { SelfAttention } = await import("@tessera/models");
    const p = modelFromConfig(CONFIGS.gpt2, {
      seed: 2,
      mixer: (_l, d) => new SelfAttention({ dModel: d, nHeads: 3, fused: true, qkvBias: true, outBias: true, layout: "in-out", kind: "sigmoid" }),
    });
    await causalCase("random gpt2 sigmoid attention", p);
    p.model.dispose();
  });
});

describe("encoders in onnxruntime-node", () => {
  const ids = [
    [2, 7, 1, 9, 4, 3],
    [5, 1, 8, 2, 0, 0],
  ];
  const mask = [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0],
  ];
  const types = [
    [0, 0, 0, 1, 1, 1],
    [0, 0, 1, 1, 0, 0],
  ];
  for (const [label, make] of [
    ["fixture bert", () => fixture("bert")],
    ["random bert", () => random("bert")],
  ] as const) {
    for (const dtype of ["float32", "float16"] as const) {
      it(`${label} ${dtype} (padding mask, token types)`, async () => {
        const p = make();
        if (dtype === "float16") roundToHalf(p.model);
        const e = await exportOnnx(p.model, p.info, { dtype });
        expect(e.inputs.map((i) => i.name)).toEqual(["input_ids", "attention_mask", "token_type_ids"]);
        const s = await session(e.bytes);
        const d = await compareBert(p.model as never, s, ids, mask, types);
        figures.push(`${label} ${dtype}: ${d.toExponential(2)} (${(e.bytes.length / 1024).toFixed(0)} KiB)`);
        expect(d).toBeLessThan(TOL);
        await s.release();
        p.model.dispose();
      });
    }
  }
  for (const [label, make] of [
    ["fixture vit", () => fixture("vit")],
    ["random vit", () => random("vit")],
  ] as const) {
    for (const dtype of ["float32", "float16"] as const) {
      it(`${label} ${dtype}`, async () => {
        const p = make();
        if (dtype === "float16") roundToHalf(p.model);
        const e = await exportOnnx(p.model, p.info, { dtype, opset: dtype === "float16" ? 20 : 17 });
        const { channels: C, imageSize: S } = (p.model as never as { opts: { channels: number; imageSize: number } }).opts;
        const pixels = normal([2, C, S, S], 0, 1, { seed: 5 });
        const s = await session(e.bytes);
        const d = await compareViT(p.model as never, s, pixels);
        figures.push(`${label} ${dtype}: ${d.toExponential(2)} (${(e.bytes.length / 1024).toFixed(0)} KiB)`);
        expect(d).toBeLessThan(TOL);
        await s.release();
        pixels.dispose();
        p.model.dispose();
      });
    }
  }
});

describe("refusals name the layer", () => {
  it("Mamba (the fixture and a random config)", async () => {
    for (const p of [fixture("mamba"), random("mamba")]) {
      await expect(exportOnnx(p.model, p.info)).rejects.toThrow(/layer 'blocks\.0\.mixer' is a MambaMixer token mixer, which has no ONNX form/);
      p.model.dispose();
    }
  });

  it("a linear-attention mixer swapped into layer 1", async () => {
    const { GatedLinearAttention } = await import("@tessera/ssm");
    const p = modelFromConfig(CONFIGS.gpt2, { seed: 1, mixer: (l, d) => (l === 1 ? (new GatedLinearAttention({ dModel: d, numHeads: 3 }) as never) : undefined) });
    await expect(exportOnnx(p.model, p.info)).rejects.toThrow(/layer 'blocks\.1\.mixer' is a GatedLinearAttention token mixer/);
    p.model.dispose();
  });

  it("options and tasks", async () => {
    const b = random("bert");
    await expect(exportOnnx(b.model, b.info, { decode: true })).rejects.toThrow(/decode: a BertForMaskedLM has no KV cache/);
    await expect(exportOnnx(b.model, b.info, { opset: 13 })).rejects.toThrow(/opset 13 is not supported/);
    await expect(exportOnnx(b.model, b.info, { dtype: "bfloat16" as never })).rejects.toThrow(/dtype 'bfloat16' is not supported/);
    b.model.dispose();
    const dyn = modelFromConfig({ ...CONFIGS.llama, rope_scaling: { rope_type: "dynamic", factor: 2 } }, { seed: 1 });
    await expect(exportOnnx(dyn.model, dyn.info)).rejects.toThrow(/layer 'blocks\.0\.mixer': dynamic \(NTK\) rope scaling/);
    dyn.model.dispose();
  });

  it("a model built by hand exports without HF info (names are Tessera's)", async () => {
    const p = random("gpt2");
    const e = await exportOnnx(p.model, null as HFInfo | null);
    const names = decodeModel(e.bytes).graph.initializers.map((t) => t.name);
    expect(names).toContain("blocks.0.mixer.qkv.weight");
    p.model.dispose();
  });
});

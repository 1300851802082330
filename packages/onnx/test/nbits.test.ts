/**
 * Weight-only quantized export (com.microsoft MatMulNBits) in onnxruntime-node:
 *  - the weights ONNX Runtime computes with equal Tessera's dequantized weights exactly (a
 *    one-node graph multiplying the identity reads them back), for every format exported;
 *  - int4 models (quantizeModel, or dtype 'int4' at export) agree with Tessera's own int4 model:
 *    logits within 1e-4 at prefill and 8 decode steps, greedy generation identical; encoders too.
 * Figures (max abs logits error, file sizes) are printed.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { normal, uniform } from "@tessera/tensor";
import { generate, modelFromConfig, Projection, quantizeModel, type CausalLM, type Pretrained } from "@tessera/models";
import { loadPretrained } from "@tessera/models/node";
import { quantize, type QuantFormat } from "@tessera/quantize";
import { decodeModel, dequantizeNBits, exportOnnx, OnnxGraph, toMatMulNBits, type ExportOptions } from "../src/index";
import { CONFIGS } from "./configs";
import { compareBert, compareCausal, compareViT, HF, maxAbsDiff, ortGreedy, session } from "./ort";
import { join } from "node:path";

const TOL = 1e-4;
const figures: string[] = [];
afterAll(() => console.log(`MatMulNBits export, ORT agreement with Tessera's quantized model (max abs logits error):\n${figures.join("\n")}`));

const int = (bits: 2 | 3 | 4 | 8, symmetric: boolean, granularity: Extract<QuantFormat, { type: "int" }>["granularity"]): QuantFormat => ({
  type: "int",
  bits,
  symmetric,
  granularity,
});
const group = (size: number) => ({ kind: "group" as const, size });
const perChannel = { kind: "channel" as const, axis: 0 };

/** The weight [N, K] ONNX Runtime's MatMulNBits computes with: identity [K, K] @ W^T, transposed. */
async function ortWeight(w: ReturnType<typeof toMatMulNBits>): Promise<Float32Array> {
  const g = new OnnxGraph("nbits");
  const a = g.input("A", "float32", ["M", w.K]);
  const ins = [a, g.initializer("B", "uint8", [w.N, w.nBlocks, w.blobSize], w.B), g.initializer("scales", "float32", [w.N * w.nBlocks], w.scales)];
  if (w.zeroPoints) ins.push(g.initializer("zp", w.zeroPoints.kind === "packed" ? "uint8" : "float32", [w.zeroPoints.data.length], w.zeroPoints.data));
  g.output(g.op("MatMulNBits", ins, { K: w.K, N: w.N, bits: w.bits, block_size: w.blockSize }, { domain: "com.microsoft" }), "float32", ["M", w.N], "Y");
  const s = await session(g.toModel({ opset: 17, domains: { "com.microsoft": 1 } }));
  const eye = new Float32Array(w.K * w.K);
  for (let i = 0; i < w.K; i++) eye[i * w.K + i] = 1;
  const y = (await s.run({ A: new ort.Tensor("float32", eye, [w.K, w.K]) })).Y.data as Float32Array; // [K, N]
  await s.release();
  const out = new Float32Array(w.N * w.K);
  for (let k = 0; k < w.K; k++) for (let n = 0; n < w.N; n++) out[n * w.K + k] = y[k * w.N + n];
  return out;
}

describe("MatMulNBits weights equal Tessera's dequantized weights", () => {
  const cases: [string, QuantFormat, number[]][] = [
    ["int4 symmetric, groups of 16", int(4, true, group(16)), [6, 48]],
    ["int4 asymmetric, groups of 32 (packed uint4 zero points)", int(4, false, group(32)), [5, 64]],
    ["int4 asymmetric per channel, K 40 padded to a block of 64", int(4, false, perChannel), [7, 40]],
    ["int4 symmetric per tensor", int(4, true, { kind: "tensor" }), [3, 32]],
    ["int8 symmetric per channel", int(8, true, perChannel), [6, 32]],
    ["int8 asymmetric, groups of 16", int(8, false, group(16)), [4, 48]],
    ["int2 symmetric, groups of 16", int(2, true, group(16)), [5, 32]],
    ["ternary per channel (BitNet b1.58)", { type: "ternary", granularity: perChannel }, [4, 48]],
  ];
  for (const [label, format, shape] of cases) {
    it(label, async () => {
      const w = normal(shape, 0, 1, { seed: 11 });
      const q = quantize(w, format);
      const nb = toMatMulNBits(q, "w");
      const want = q.values();
      expect(dequantizeNBits(nb)).toEqual(want);
      expect(await ortWeight(nb)).toEqual(want);
      w.dispose();
    });
  }

  it("asymmetric groups that do not straddle zero keep float zero points (within one rounding: ORT computes fl(q s) - fl(z s))", async () => {
    // All-positive rows: z = round(-min / s) < 0 does not fit a uint4.
    const w = uniform([4, 32], 0.5, 2, { seed: 3 });
    const q = quantize(w, int(4, false, group(16)));
    const nb = toMatMulNBits(q, "w");
    expect(nb.zeroPoints?.kind).toBe("float");
    const ours = dequantizeNBits(nb);
    expect(await ortWeight(nb)).toEqual(ours);
    const want = q.values();
    // fl(q s) - fl(z s) vs fl((q - z) s): at most one ulp of the larger term, |z s| <= 2^b |s| max.
    for (let i = 0; i < want.length; i++) expect(Math.abs(ours[i] - want[i])).toBeLessThanOrEqual(2 ** -22 * (Math.abs(want[i]) + 16 * nb.scales[Math.floor(i / 16)]));
    w.dispose();
  });

  it("formats without a MatMulNBits form are refused, naming the layer", () => {
    const w = normal([4, 64], 0, 1, { seed: 1 });
    const refuse = (f: QuantFormat, msg: RegExp) => expect(() => toMatMulNBits(quantize(w, f), "blocks.0.mlp.up")).toThrow(msg);
    refuse({ type: "nf4", blockSize: 64, doubleQuant: false }, /layer 'blocks\.0\.mlp\.up' is nf4, which has no MatMulNBits form/);
    refuse({ type: "fp8", variant: "e4m3", granularity: perChannel }, /is fp8 e4m3, which has no MatMulNBits form/);
    refuse(int(3, true, group(16)), /is int3, which MatMulNBits does not store/);
    refuse(int(4, true, group(8)), /groups of 8 are not a MatMulNBits block size \(a power of two >= 16\)/);
    refuse(int(4, true, { kind: "channel", axis: 1 }), /channels along axis 1 do not map onto MatMulNBits blocks/);
    refuse(int(4, true, { kind: "block", size: 64 }), /blocks of 64 over the flattened weight do not map onto MatMulNBits blocks/);
    w.dispose();
  });
});

function fixture(name: string): Pretrained {
  return loadPretrained(join(HF, name));
}

/** Export prefill + decode, compare with Tessera (8 decode steps) and greedy generation. */
async function causalCase(label: string, model: CausalLM, info: Pretrained["info"], o: ExportOptions = {}) {
  const pre = await exportOnnx(model, info, o);
  const dec = await exportOnnx(model, info, { ...o, decode: true });
  const usesPositions = pre.inputs.some((i) => i.name === "position_ids");
  const V = model.vocabSize;
  const prompt = [[1, 5, 2, 7, 3].map((t) => t % V), [4, 0, 6, 2, 1].map((t) => t % V)];
  const [sp, sd] = [await session(pre.bytes), await session(dec.bytes)];
  const r = await compareCausal(model, sp, sd, prompt, 8, usesPositions);
  figures.push(
    `${label}: prefill ${r.prefill.toExponential(2)}, decode ${r.decode.toExponential(2)} (${pre.quantizedLayers.length} MatMulNBits; prefill ${(pre.bytes.length / 1024).toFixed(0)} KiB)`,
  );
  expect(r.prefill).toBeLessThan(TOL);
  expect(r.decode).toBeLessThan(TOL);
  const want = await generate(model, [prompt[0]], { maxNewTokens: 10 });
  expect(await ortGreedy(sp, sd, prompt[0], 10, usesPositions, V)).toEqual(want.generated[0]);
  await sp.release();
  await sd.release();
  return pre;
}

describe("quantized causal LMs in onnxruntime-node", () => {
  for (const name of ["gpt2", "llama"]) {
    it(`fixture ${name}, int4 symmetric groups of 32 (quantizeModel): prefill, 8 decode steps, greedy`, async () => {
      const p = fixture(name);
      const f32 = await exportOnnx(p.model, p.info);
      const report = quantizeModel(p.model, { format: int(4, true, group(32)) });
      const pre = await causalCase(`fixture ${name} int4 g32`, p.model as CausalLM, p.info);
      expect([...pre.quantizedLayers].sort()).toEqual([...report.layers].sort());
      const m = decodeModel(pre.bytes);
      expect(m.opsetImport).toContainEqual({ domain: "com.microsoft", version: 1 });
      expect(m.graph.nodes.filter((n) => n.opType === "MatMulNBits" && n.domain === "com.microsoft")).toHaveLength(report.layers.length);
      expect(m.graph.nodes.some((n) => n.opType === "MatMul" && n.inputs.some((i) => /^transformer\.h\.|^model\.layers\./.test(i)))).toBe(false);
      figures.push(`  ${name}: float32 ${(f32.bytes.length / 1024).toFixed(0)} KiB -> int4 ${(pre.bytes.length / 1024).toFixed(0)} KiB`);
      expect(pre.weightBytes).toBeLessThan(f32.weightBytes);
      p.model.dispose();
    });
  }

  it("fixture llama: dtype 'int4' at export is the graph of the quantizeModel'd model", async () => {
    const a = fixture("llama");
    const b = fixture("llama");
    const atExport = await exportOnnx(a.model, a.info, { dtype: "int4", blockSize: 16 });
    // Quantizing at export leaves the model float.
    expect([...a.model.namedModules()].filter(([, m]) => m instanceof Projection && m.quantized)).toEqual([]);
    quantizeModel(b.model, { format: int(4, true, group(16)) });
    const prequantized = await exportOnnx(b.model, b.info);
    expect(atExport.quantizedLayers).toEqual(prequantized.quantizedLayers);
    expect(decodeModel(atExport.bytes).metadata.weights_dtype).toBe("int4");
    expect(atExport.weightBytes).toBe(prequantized.weightBytes);
    const ids = new ort.Tensor("int64", BigInt64Array.from([3n, 9n, 27n, 81n]), [1, 4]);
    const feeds = {
      input_ids: ids,
      attention_mask: new ort.Tensor("int64", BigInt64Array.from([1n, 1n, 1n, 1n]), [1, 4]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from([0n, 1n, 2n, 3n]), [1, 4]),
    };
    const [sa, sb] = [await session(atExport.bytes), await session(prequantized.bytes)];
    expect(maxAbsDiff((await sa.run(feeds)).logits.data as Float32Array, (await sb.run(feeds)).logits.data as Float32Array)).toBe(0);
    await causalCase("fixture llama dtype int4 g16", b.model as CausalLM, b.info);
    await sa.release();
    await sb.release();
    a.model.dispose();
    b.model.dispose();
  });

  it("random llama (GQA, K 60 and 56): int4 asymmetric per channel, blocks padded to 64", async () => {
    const p = modelFromConfig(CONFIGS.llama, { seed: 7 });
    quantizeModel(p.model, { format: int(4, false, perChannel) });
    await causalCase("random llama int4 asym per channel", p.model as CausalLM, p.info);
    p.model.dispose();
  });

  it("random mistral (sliding window): int8 symmetric groups of 16", async () => {
    const p = modelFromConfig(CONFIGS.mistral, { seed: 7 });
    quantizeModel(p.model, { format: int(8, true, group(16)) });
    await causalCase("random mistral int8 g16", p.model as CausalLM, p.info);
    p.model.dispose();
  });

  it("random gpt2 (Conv1D in-out weights) quantized at export: dtype 'int4' (groups of 16 do not divide n_embd 24 -> refused; per-channel model exports)", async () => {
    const p = modelFromConfig(CONFIGS.gpt2, { seed: 7 });
    await expect(exportOnnx(p.model, p.info, { dtype: "int4", blockSize: 16 })).rejects.toThrow(
      /layer 'blocks\.0\.mixer\.qkv': blockSize 16 does not divide its 24 input features \(the weight is \[72, 24\]\)/,
    );
    quantizeModel(p.model, { format: int(4, true, perChannel) });
    await causalCase("random gpt2 int4 per channel", p.model as CausalLM, p.info);
    p.model.dispose();
  });
});

describe("quantized encoders in onnxruntime-node", () => {
  it("fixture bert, dtype 'int4' groups of 32, against Tessera's quantizeModel'd BERT", async () => {
    const p = fixture("bert");
    const e = await exportOnnx(p.model, p.info, { dtype: "int4" });
    quantizeModel(p.model, { format: int(4, true, group(32)) });
    const s = await session(e.bytes);
    const d = await compareBert(
      p.model as never,
      s,
      [
        [2, 7, 1, 9, 4, 3],
        [5, 1, 8, 2, 0, 0],
      ],
      [
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0],
      ],
      [
        [0, 0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0, 0],
      ],
    );
    figures.push(`fixture bert int4 g32: ${d.toExponential(2)} (${(e.bytes.length / 1024).toFixed(0)} KiB)`);
    expect(d).toBeLessThan(TOL);
    await s.release();
    p.model.dispose();
  });

  it("fixture vit, dtype 'int4' groups of 16", async () => {
    const p = fixture("vit");
    const e = await exportOnnx(p.model, p.info, { dtype: "int4", blockSize: 16 });
    quantizeModel(p.model, { format: int(4, true, group(16)) });
    const { channels: C, imageSize: S } = (p.model as never as { opts: { channels: number; imageSize: number } }).opts;
    const pixels = normal([2, C, S, S], 0, 1, { seed: 5 });
    const s = await session(e.bytes);
    const d = await compareViT(p.model as never, s, pixels);
    figures.push(`fixture vit int4 g16: ${d.toExponential(2)} (${(e.bytes.length / 1024).toFixed(0)} KiB)`);
    expect(d).toBeLessThan(TOL);
    await s.release();
    pixels.dispose();
    p.model.dispose();
  });

  it("option errors", async () => {
    const p = modelFromConfig(CONFIGS.bert, { seed: 1 });
    await expect(exportOnnx(p.model, p.info, { dtype: "int4", blockSize: 24 })).rejects.toThrow(/blockSize 24 is not a MatMulNBits block size \(a power of two >= 16\)/);
    await expect(exportOnnx(p.model, p.info, { blockSize: 32 })).rejects.toThrow(/blockSize applies to dtype 'int4' only \(dtype is 'float32'\)/);
    quantizeModel(p.model, { format: { type: "nf4", blockSize: 64, doubleQuant: false } });
    await expect(exportOnnx(p.model, p.info)).rejects.toThrow(/layer 'blocks\.0\.mixer\.q' is nf4, which has no MatMulNBits form/);
    p.model.dispose();
  });
});

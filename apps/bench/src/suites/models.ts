/**
 * Whole models at realistic sizes with random weights (GPT-2 small 124M, a Llama with
 * grouped-query attention, Mamba-130M), batch 1: prefill of T = 128 tokens and one decode step
 * after 128 tokens (KV cache / recurrent state), as time, tokens/s and peak activation memory.
 * GPT-2 runs side by side with the same weights in onnxruntime-node (anchors/onnx-gpt2.ts: the
 * model exported by @tessera/onnx; the runtime transformers.js uses), both for prefill and for a
 * cached decode step fed Tessera's keys/values, and the logits are cross-checked; GPT-2 also
 * decodes after a 960-token prompt (a long key / value cache) against onnxruntime-node.
 * Attention models also decode with float16 / bfloat16 block projections (castModel) and with
 * weight-only quantized ones (int8 per channel, int4 groups of 64, NF4 blocks of 64 with double
 * quantization); embeddings and head stay float32: time, weight bytes and the logits' relative
 * RMS error against float32. The int8 and int4 models also decode in onnxruntime-node, exported
 * by @tessera/onnx with com.microsoft MatMulNBits (the same codes), cross-checked against
 * Tessera's quantized logits. The default run decodes the Llama with float16 and int4 g64 blocks
 * only (each format rebuilds the model); `--full` runs every format on GPT-2 and the Llama.
 */
import { keep, tensor, tidy, type Tensor } from "@tessera/tensor";
import { castModel, modelFromConfig, quantizeModel, type CausalLM, type HFInfo, type LMState } from "@tessera/models";
import type { QuantFormat } from "@tessera/quantize";
import { gpt2Session } from "../anchors/onnx-gpt2";
import type { Row, Tier } from "../harness";
import { FULL, type Spec } from "../model-specs";
import { tesseraImpl } from "../impls";
import { runCase } from "../run-impls";
import type { Impl, Suite } from "../suite";

const QUICK: Spec[] = [
  { name: "gpt2-tiny", config: { model_type: "gpt2", vocab_size: 128, n_embd: 64, n_head: 4, n_layer: 2, n_positions: 64 } },
  {
    name: "llama-tiny",
    config: { model_type: "llama", vocab_size: 128, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 },
  },
  { name: "mamba-tiny", config: { model_type: "mamba", vocab_size: 128, hidden_size: 64, num_hidden_layers: 2, state_size: 16 } },
];

const QUANT: [string, QuantFormat][] = [
  ["int8", { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }],
  ["int4 g64", { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 64 } }],
  ["nf4 b64 dq", { type: "nf4", blockSize: 64, doubleQuant: true }],
];

/** Block-weight formats of the compressed decode rows: [label, case suffix, apply (returns the bytes before / after)]. */
const WEIGHT_FORMATS: [string, string, (m: CausalLM) => { bytesBefore: number; bytesAfter: number }][] = [
  ["float16", "half weights", (m) => castModel(m, { dtype: "float16" })],
  ["bfloat16", "half weights", (m) => castModel(m, { dtype: "bfloat16" })],
  ...QUANT.map(([label, format]): [string, string, (m: CausalLM) => { bytesBefore: number; bytesAfter: number }] => [label, "quantized", (m) => quantizeModel(m, { format })]),
];

const ALL_FORMATS = WEIGHT_FORMATS.map(([label]) => label);
/** Formats whose exported graph stores the projections as MatMulNBits (decoded in onnxruntime-node too). */
const ORT_FORMATS = new Set(["int8", "int4 g64"]);

/**
 * Models, prompt length, and per model the compressed block-weight formats it also decodes with
 * (attention models on the cpu backend). Each format rebuilds the model from its seed (~10 s
 * for 125M parameters here), so the default run keeps two formats on the Llama.
 */
const GRIDS: Record<Tier, { specs: Spec[]; T: number; formats: (model: string) => string[]; longT: number | null }> = {
  quick: { specs: QUICK, T: 16, formats: () => ALL_FORMATS, longT: null },
  default: { specs: FULL, T: 128, formats: (model) => (model === "llama-gqa-125M" ? ["float16", "int4 g64"] : []), longT: 960 },
  full: { specs: FULL, T: 128, formats: () => ALL_FORMATS, longT: 960 },
};

/** Whether a model also decodes after a long prompt (`longT` tokens and the next one within its positions; the GPT-2 anchor on cpu: a long key / value cache). */
const longDecode = (spec: Spec, backend: string, longT: number | null): longT is number =>
  longT !== null && spec.config.model_type === "gpt2" && backend === "cpu" && longT + 1 <= Number(spec.config.n_positions ?? 1024);

const ids = (V: number, T: number, seed: number) => Array.from({ length: T }, (_, t) => (seed * 7919 + t * 104729) % V);

/** Tessera: the model's forward over `tokens` (continuing `state` when given). */
function tesseraModel(backend: string, m: CausalLM, tokens: number[], state: LMState | null, name = "tessera"): Impl {
  return tesseraImpl(
    backend,
    () => {
      const x = tensor([tokens], { dtype: "int32", backend });
      return { inputs: [x], op: () => m.forward(x, state ? { state, logits: "last" } : {}).logits };
    },
    name,
  );
}

/** The GPT-2 anchors (and the quantized models' decode anchors): the model exported by @tessera/onnx, in onnxruntime-node. */
function ortGpt2(m: CausalLM, info: HFInfo, tokens: number[], past: LMState | null, impl = "onnxruntime-node"): Impl {
  return {
    impl,
    backend: "cpu",
    async setup() {
      const s = await gpt2Session(m, info, tokens, past);
      let out: Float32Array = new Float32Array(0);
      return { run: async () => (out = await s.run()), result: async () => out, dispose: () => s.release() };
    },
  };
}

function stateTensors(s: LMState): Tensor[] {
  return s.layers.flatMap((l) => Object.values(l).filter((t): t is Tensor => typeof t !== "number"));
}

export const modelsSuite: Suite = {
  name: "models",
  description:
    "GPT-2 124M, Llama-GQA 125M and Mamba-130M (random weights): prefill T=128 and a cached decode step (GPT-2 also after 960 tokens), tokens/s and peak memory; GPT-2 vs onnxruntime-node",
  plan: ({ tier, backend }) => {
    const { specs, T, formats, longT } = GRIDS[tier];
    return specs.flatMap((spec) => {
      const type = spec.config.model_type;
      const impls = ["tessera", ...(type === "gpt2" && backend === "cpu" ? ["onnxruntime-node"] : [])];
      return [
        ...impls.map((impl) => ({ case: `${spec.name} prefill T=${T}`, impl })),
        ...impls.map((impl) => ({ case: `${spec.name} decode @${T}`, impl })),
        ...(longDecode(spec, backend, longT) ? impls.map((impl) => ({ case: `${spec.name} decode @${longT}`, impl })) : []),
        ...(type !== "mamba" && backend === "cpu"
          ? WEIGHT_FORMATS.filter(([label]) => formats(spec.name).includes(label)).flatMap(([label, suffix]) => [
              { case: `${spec.name} decode @${T} ${suffix}`, impl: `tessera ${label}` },
              ...(ORT_FORMATS.has(label) ? [{ case: `${spec.name} decode @${T} ${suffix}`, impl: `onnxruntime-node ${label}` }] : []),
            ])
          : []),
      ];
    });
  },
  async run(ctx) {
    const { specs, T, formats, longT } = GRIDS[ctx.tier];
    const rows: Row[] = [];
    for (const spec of specs) {
      ctx.log(`  building ${spec.name} (random weights)...`);
      const p = modelFromConfig(spec.config, { seed: 1, backend: ctx.backend });
      const m = p.model.eval() as CausalLM;
      const params = m.parameters().reduce((s, t) => s + t.size, 0);
      const note = `${(params / 1e6).toFixed(1)}M params, ${((params * 4) / 2 ** 20).toFixed(0)} MiB float32 weights`;
      const prompt = ids(m.vocabSize, T, 1);
      const next = ids(m.vocabSize, 1, 2);
      // Prefill: 2 warm-up runs and 5 timed ones by default. With 3 (the tier's minimum at ~0.5 s
      // a run) the median swung by 100+ ms between runs here, the first runs after building a
      // model sharing the cores with the garbage collector's threads.
      const measure =
        ctx.tier === "default" ? { ...ctx.measure, warmup: 2, minRuns: 5, maxRuns: 5 } : { ...ctx.measure, warmup: 1, minRuns: 3, maxRuns: 5, budgetMs: ctx.quick ? 500 : 4000 };
      // Decode steps are timed in a generation's steady state: 1.5 s of steps first (V8 finishes
      // compiling the step; its background compiles otherwise cost the first ~50 steps 3-4 ms stalls).
      const decodeMeasure = { ...(ctx.tier === "default" ? ctx.measure : { ...measure, minRuns: 5, maxRuns: 20 }), warmupMs: ctx.quick ? 0 : 1500 };
      const anchor = p.modelType === "gpt2" && ctx.backend === "cpu";

      const prefill = [tesseraModel(ctx.backend, m, prompt, null)];
      if (anchor) prefill.push(ortGpt2(m, p.info, prompt, null));
      const pre = await runCase({ ...ctx, measure }, { suite: "models", name: `${spec.name} prefill T=${T}`, impls: prefill, flops: 2 * params * T, tolerance: 1e-3 });
      for (const r of pre) r.note = [r.note, `${((T / r.median_ms) * 1000).toFixed(0)} tok/s`, r.impl === "tessera" ? note : ""].filter(Boolean).join("; ");
      rows.push(...pre);

      // Decode: one token after the prompt, from a kept prefill state.
      const prefilled = tidy(() => m.forward(tensor([prompt], { dtype: "int32", backend: ctx.backend }), { logits: "last" }).state);
      stateTensors(prefilled).forEach((t) => keep(t));
      const decode = [tesseraModel(ctx.backend, m, next, prefilled)];
      if (anchor) decode.push(ortGpt2(m, p.info, next, prefilled));
      const dec = await runCase({ ...ctx, measure: decodeMeasure }, { suite: "models", name: `${spec.name} decode @${T}`, impls: decode, flops: 2 * params, tolerance: 1e-3 });
      for (const r of dec) r.note = [r.note, `${(1000 / r.median_ms).toFixed(1)} tok/s`].filter(Boolean).join("; ");
      rows.push(...dec);
      const ref = (await tidy(() => m.forward(tensor([next], { dtype: "int32", backend: ctx.backend }), { state: prefilled, logits: "last" }).logits).data()) as Float32Array;
      stateTensors(prefilled).forEach((t) => t.dispose());

      // Decode after a long prompt: the step reads a long key / value cache (resident in the fused attention's memory).
      if (longDecode(spec, ctx.backend, longT)) {
        ctx.log(`  prefilling ${longT} tokens for the long decode...`);
        const long = tidy(() => m.forward(tensor([ids(m.vocabSize, longT, 3)], { dtype: "int32", backend: ctx.backend }), { logits: "last" }).state);
        stateTensors(long).forEach((t) => keep(t));
        const impls = [tesseraModel(ctx.backend, m, next, long), ortGpt2(m, p.info, next, long)];
        const longRows = await runCase({ ...ctx, measure: decodeMeasure }, { suite: "models", name: `${spec.name} decode @${longT}`, impls, flops: 2 * params, tolerance: 1e-3 });
        for (const r of longRows) r.note = [r.note, `${(1000 / r.median_ms).toFixed(1)} tok/s`].filter(Boolean).join("; ");
        rows.push(...longRows);
        stateTensors(long).forEach((t) => t.dispose());
      }
      m.dispose();
      if (p.modelType !== "mamba" && ctx.backend === "cpu" && formats(spec.name).length)
        rows.push(...(await compressedDecode(ctx, spec, prompt, next, ref, decodeMeasure, formats(spec.name))));
    }
    return rows;
  },
};

/** One decode step with half-precision or weight-only quantized block projections, per format (same seed, same float weights). */
async function compressedDecode(
  ctx: Parameters<Suite["run"]>[0],
  spec: Spec,
  prompt: number[],
  next: number[],
  ref: Float32Array,
  measure: Parameters<Suite["run"]>[0]["measure"],
  formats: string[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, suffix, apply] of WEIGHT_FORMATS.filter(([l]) => formats.includes(l))) {
    ctx.log(`  building ${spec.name} with ${label} weights...`);
    const p = modelFromConfig(spec.config, { seed: 1, backend: ctx.backend });
    const m = p.model.eval() as CausalLM;
    const r = apply(m);
    const prefilled = tidy(() => m.forward(tensor([prompt], { dtype: "int32", backend: ctx.backend }), { logits: "last" }).state);
    stateTensors(prefilled).forEach((t) => keep(t));
    const out = (await tidy(() => m.forward(tensor([next], { dtype: "int32", backend: ctx.backend }), { state: prefilled, logits: "last" }).logits).data()) as Float32Array;
    let num = 0;
    let den = 0;
    for (let i = 0; i < ref.length; i++) {
      num += (out[i] - ref[i]) ** 2;
      den += ref[i] ** 2;
    }
    const impls = [tesseraModel(ctx.backend, m, next, prefilled, `tessera ${label}`)];
    if (ORT_FORMATS.has(label)) impls.push(ortGpt2(m, p.info, next, prefilled, `onnxruntime-node ${label}`));
    const got = await runCase({ ...ctx, measure }, { suite: "models", name: `${spec.name} decode @${prompt.length} ${suffix}`, impls, tolerance: 1e-3 });
    for (const row of got) {
      const speed = `${(1000 / row.median_ms).toFixed(1)} tok/s`;
      if (row.impl.startsWith("onnxruntime-node")) row.note = [speed, row.note].filter(Boolean).join("; ");
      else
        row.note = `${speed}; block weights ${(r.bytesBefore / 2 ** 20).toFixed(1)} -> ${(r.bytesAfter / 2 ** 20).toFixed(1)} MiB; logits rel. RMS error vs float32 ${Math.sqrt(num / den).toFixed(4)}`;
    }
    rows.push(...got);
    stateTensors(prefilled).forEach((t) => t.dispose());
    m.dispose();
  }
  return rows;
}

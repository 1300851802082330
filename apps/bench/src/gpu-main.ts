/**
 * The GPU measurement entry point, bundled for the GPU machine by ../shared/gpu/pack.sh
 * (see README "On the GPU machine"). Times Tessera's webgpu backend on the shapes that
 * gpu/torch_bench.py times PyTorch on, and writes the same JSON rows.
 *   node gpu-main [--json FILE] [--quick]
 */
import { writeFileSync } from "node:fs";
import { exp, gelu, layerNorm, matmul, neg, normal, ones, softmax, tidy, zeros, type Backend, type Tensor } from "@tessera/tensor";
import { scaledDotProductAttention } from "@tessera/attention";
import { selectiveScan } from "@tessera/ssm";
import { keep, tensor } from "@tessera/tensor";
import { castModel, modelFromConfig, type CausalLM, type LMState, type RawConfig } from "@tessera/models";
import { QuantizedLinearWeight, quantize, quantizedLinear, type QuantFormat } from "@tessera/quantize";
import { nearestCode } from "@tessera/codebook";
import { cast, linear } from "@tessera/tensor";
import { useBackend } from "./backends";
import { measure, type MeasureOptions, type Row } from "./harness";
import { formatTable } from "./report";
import { FULL } from "./model-specs";

interface Case {
  suite: string;
  name: string;
  inputs: () => Tensor[];
  op: (xs: Tensor[]) => Tensor;
  flops?: number;
  bytes?: number;
  /** Frees what `inputs` built besides the returned tensors (a model). */
  cleanup?: () => void;
}

/**
 * Whole models with random weights on the GPU (the `models` suite's shapes): prefill of T = 128 (16 quick)
 * tokens and one cached decode step after them. torch_bench.py builds the same architectures in
 * PyTorch (eager, fp32) with the same case names; the "f16 weights" rows (packed float16 block
 * projections, float32 math) compare against the same fp32 PyTorch rows.
 */
function modelCases(quick: boolean): Case[] {
  const specs: [string, RawConfig][] = quick
    ? [["gpt2-tiny", { model_type: "gpt2", vocab_size: 128, n_embd: 64, n_head: 4, n_layer: 2, n_positions: 256 }]]
    : FULL.map((m): [string, RawConfig] => [m.name, m.config]);
  const T = quick ? 16 : 128;
  const out: Case[] = [];
  // Each architecture in float32, and GPT-2 / Llama again with float16 block projections (castModel).
  const variants = specs.flatMap(([name, config]): [string, RawConfig, boolean][] =>
    config.model_type === "mamba"
      ? [[name, config, false]]
      : [
          [name, config, false],
          [`${name} f16 weights`, config, true],
        ],
  );
  for (const [name, config, half] of variants) {
    let model: CausalLM | null = null;
    let state: LMState | null = null;
    const build = (): CausalLM => {
      if (model) return model;
      model = modelFromConfig(config, { seed: 1, backend: "webgpu" }).model.eval() as CausalLM;
      if (half) castModel(model, { dtype: "float16" });
      return model;
    };
    const ids = (n: number, seed: number) => tensor([Array.from({ length: n }, (_, t) => (seed * 7919 + t * 104729) % build().vocabSize)], { dtype: "int32", backend: "webgpu" });
    out.push({ suite: "models", name: `${name} prefill T=${T}`, inputs: () => [ids(T, 1)], op: ([x]) => build().forward(x).logits });
    out.push({
      suite: "models",
      name: `${name} decode @${T}`,
      inputs: () => {
        const m = build();
        state = tidy(() => m.forward(ids(T, 1), { logits: "last" }).state);
        for (const l of state.layers) for (const v of Object.values(l)) if (typeof v !== "number") keep(v);
        return [ids(1, 2)];
      },
      op: ([x]) => build().forward(x, { state: state!, logits: "last" }).logits,
      cleanup: () => {
        for (const l of state?.layers ?? []) for (const v of Object.values(l)) if (typeof v !== "number") v.dispose();
        model?.dispose();
        model = null;
      },
    });
  }
  return out;
}

function cases(quick: boolean): Case[] {
  const sizes = quick ? [64, 128] : [1024, 2048, 4096];
  const shape = quick ? [2, 64, 256] : [64, 1024, 1024];
  const n = shape.reduce((a, b) => a * b, 1);
  const d = shape[shape.length - 1];
  const rows: Case[] = sizes.map((s) => ({
    suite: "matmul",
    name: `${s}x${s}x${s}`,
    inputs: () => [normal([s, s], 0, 1, { seed: s }), normal([s, s], 0, 1, { seed: s + 1 })],
    op: ([a, b]) => matmul(a, b),
    flops: 2 * s ** 3,
  }));
  // float16 storage (packed, read in the kernel, f32 math and a float16 result): memory halves.
  const big = sizes[sizes.length - 1];
  rows.push({
    suite: "matmul",
    name: `${big}x${big}x${big} float16 storage`,
    inputs: () => [cast(normal([big, big], 0, 1, { seed: big }), "float16"), cast(normal([big, big], 0, 1, { seed: big + 1 }), "float16")],
    op: ([a, b]) => matmul(a, b),
    flops: 2 * big ** 3,
  });
  const x = (): Tensor[] => [normal(shape, 0, 1, { seed: 11 }), ones([d]), zeros([d])];
  rows.push(
    { suite: "ops", name: `softmax [${shape}]`, inputs: x, op: ([t]) => softmax(t, -1), bytes: 8 * n },
    { suite: "ops", name: `layerNorm [${shape}]`, inputs: x, op: ([t, w, b]) => layerNorm(t, w, b, 1e-5), bytes: 8 * n },
    { suite: "ops", name: `gelu [${shape}]`, inputs: x, op: ([t]) => gelu(t), bytes: 8 * n },
  );
  // Causal attention, B=1 H=8 Dh=64: the fused WGSL flash kernel (tiled path, causal only).
  for (const T of quick ? [128] : [1024, 4096]) {
    rows.push({
      suite: "attention",
      name: `sdpa causal T=${T}`,
      inputs: () => [1, 2, 3].map((s) => normal([1, 8, T, 64], 0, 1, { seed: T + s })),
      op: ([q, k, v]) => scaledDotProductAttention(q, k, v, { causal: true, implementation: "tiled" }),
      flops: 2 * 8 * T * T * 64,
    });
  }
  // The Mamba selective scan at Mamba-130M's inner width (D = 1536, N = 16), B = 1, with D, z
  // and a softplus'ed delta: the fused WGSL kernel (segment-parallel, three passes).
  const D = 1536;
  const N = 16;
  for (const L of quick ? [256] : [1024, 4096, 16384]) {
    rows.push({
      suite: "ssm",
      name: `selective scan D=${D} N=${N} L=${L}`,
      inputs: () => [
        normal([1, D, L], 0, 1, { seed: 1 }),
        normal([1, D, L], -2, 0.5, { seed: 2 }),
        neg(exp(normal([D, N], 0, 0.5, { seed: 3 }))),
        normal([1, N, L], 0, 1, { seed: 4 }),
        normal([1, N, L], 0, 1, { seed: 5 }),
        normal([D], 0, 1, { seed: 6 }),
        normal([1, D, L], 0, 1, { seed: 7 }),
      ],
      op: ([u, delta, A, B, C, Dv, z]) => selectiveScan(u, delta, A, B, C, { D: Dv, z, deltaSoftplus: true, implementation: "fused" }).y,
      bytes: 4 * (4 * D * L + 2 * N * L),
    });
  }
  return [...rows, ...quantizeCases(quick), ...codebookCases(quick), ...modelCases(quick)];
}

/** Weight-only quantized matmul on the GPU (the `quantize` suite's shapes): float32 vs int8 / int4 / NF4. */
function quantizeCases(quick: boolean): Case[] {
  const [K, N] = quick ? [256, 256] : [4096, 4096];
  const formats: [string, QuantFormat][] = [
    ["int8 per channel", { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }],
    ["int4 g64", { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 64 } }],
    ["nf4 b64 dq", { type: "nf4", blockSize: 64, doubleQuant: true }],
  ];
  const out: Case[] = [];
  for (const M of quick ? [1] : [1, 512]) {
    out.push({
      suite: "quantize",
      name: `${M}x${K}x${N} float32`,
      inputs: () => [normal([M, K], 0, 1, { seed: 2 }), normal([N, K], 0, 0.02, { seed: 1 })],
      op: ([x, w]) => linear(x, w),
      flops: 2 * M * K * N,
    });
    // float16 storage: the weight packed two per word and read in the kernel (float32 math).
    out.push({
      suite: "quantize",
      name: `${M}x${K}x${N} float16 weight`,
      inputs: () => [normal([M, K], 0, 1, { seed: 2 }), cast(normal([N, K], 0, 0.02, { seed: 1 }), "float16")],
      op: ([x, w]) => linear(x, w),
      flops: 2 * M * K * N,
    });
    for (const [label, f] of formats) {
      let q: QuantizedLinearWeight | null = null;
      out.push({
        suite: "quantize",
        name: `${M}x${K}x${N} ${label}`,
        inputs: () => {
          q = new QuantizedLinearWeight(quantize(normal([N, K], 0, 0.02, { seed: 1, backend: "cpu" }), f));
          return [normal([M, K], 0, 1, { seed: 2 })];
        },
        op: ([x]) => quantizedLinear(x, q!),
        flops: 2 * M * K * N,
        cleanup: () => q?.dispose(),
      });
    }
  }
  return out;
}

/** Nearest-code search on the GPU (the `codebook` suite's largest shapes), the fused WGSL kernel. */
function codebookCases(quick: boolean): Case[] {
  const [N, K, d] = quick ? [128, 256, 32] : [1024, 65536, 256];
  return [
    {
      suite: "codebook",
      name: `search N=${N} K=${K} d=${d}`,
      inputs: () => [normal([N, d], 0, 1, { seed: 1 }), normal([K, d], 0, 1, { seed: 2 })],
      op: ([x, e]) => nearestCode(x, e),
      flops: 2 * N * K * d,
    },
  ];
}

async function run(c: Case, be: Backend, opts: MeasureOptions): Promise<Row> {
  const xs = c.inputs();
  let last: Tensor | null = null;
  const t = await measure(async () => {
    last?.dispose();
    last = tidy(() => c.op(xs));
    await be.sync?.();
  }, opts);
  await (last as Tensor | null)?.data(); // surfaces any device error
  (last as Tensor | null)?.dispose();
  for (const x of xs) x.dispose();
  c.cleanup?.();
  const row: Row = { suite: c.suite, case: c.name, impl: "tessera", backend: "webgpu", median_ms: t.median, min_ms: t.min, max_ms: t.max, runs: t.runs };
  if (c.flops) row.gflops = c.flops / (t.median * 1e6);
  if (c.bytes) row.gbps = c.bytes / (t.median * 1e6);
  return row;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const jsonAt = args.indexOf("--json");
  const be = (await useBackend("webgpu")) as Backend & { info?: { vendor: string; architecture: string; description: string; features: string[] } };
  console.log(
    `tessera gpu-main: ${JSON.stringify({ vendor: be.info?.vendor, architecture: be.info?.architecture, description: be.info?.description, features: be.info?.features })}`,
  );
  const opts: MeasureOptions = quick ? { warmup: 1, minRuns: 3, maxRuns: 5, budgetMs: 200 } : { warmup: 3, minRuns: 10, maxRuns: 50, budgetMs: 2000 };
  const rows: Row[] = [];
  for (const c of cases(quick)) {
    const r = await run(c, be, opts);
    console.error(`  ${c.name}: ${r.median_ms.toFixed(3)} ms`);
    rows.push(r);
  }
  console.log(formatTable(rows));
  if (jsonAt >= 0) writeFileSync(args[jsonAt + 1], JSON.stringify(rows, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

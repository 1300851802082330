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
import { useBackend } from "./backends";
import { measure, type MeasureOptions, type Row } from "./harness";
import { formatTable } from "./report";

interface Case {
  suite: string;
  name: string;
  inputs: () => Tensor[];
  op: (xs: Tensor[]) => Tensor;
  flops?: number;
  bytes?: number;
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
  return rows;
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
  console.log(`tessera gpu-main: ${JSON.stringify({ vendor: be.info?.vendor, architecture: be.info?.architecture, description: be.info?.description, features: be.info?.features })}`);
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

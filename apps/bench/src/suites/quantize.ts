/**
 * Weight-only quantized matmul against float32 at LLM-like shapes: one token through a
 * 4096 x 4096 weight (decode: memory-bound, the case quantization is for), 16 tokens (a short
 * prompt: the fused kernels, one GEMV per row, up to CPU_FUSED_MAX_ROWS = 32 rows) and 128 (512
 * with `--full`) (prefill: compute-bound; quantized weights are dequantized per call). Rows: time, GB/s of
 * weight bytes read, and the weight's size; float32 anchors: Tessera's linear and
 * onnxruntime-node's MatMul on the same weight. "tessera" is the float32 row the ratios refer to. Quantized outputs are not cross-checked against
 * float32 (they differ by the quantization error; the tests check them against dequantized
 * weights).
 */
import { linear, normal, tensor, type Tensor } from "@tessera/tensor";
import { CPU_FUSED_MAX_ROWS, FUSED_MAX_ROWS, QuantizedLinearWeight, quantize, quantizedLinear, type QuantFormat } from "@tessera/quantize";
import type { Row } from "../harness";
import { ortImpl, tesseraImpl } from "../impls";
import { runCase } from "../run-impls";
import type { Tier } from "../harness";
import type { Impl, Suite } from "../suite";

/** [K, N] of the weight and the token counts M: decode (1), a short prompt (16: fused) and prefill (128, 512 with --full: dequantized). */
const GRID: Record<Tier, { K: number; N: number; Ms: number[] }> = {
  quick: { K: 256, N: 256, Ms: [1, 16, 64] },
  default: { K: 4096, N: 4096, Ms: [1, 16, 128] },
  full: { K: 4096, N: 4096, Ms: [1, 16, 512] },
};

const FORMATS: [string, QuantFormat][] = [
  ["int8 per channel", { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }],
  ["int4 g64", { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 64 } }],
  ["nf4 b64 dq", { type: "nf4", blockSize: 64, doubleQuant: true }],
];

export const quantizeSuite: Suite = {
  name: "quantize",
  description: "weight-only int8 / int4 / NF4 matmul vs float32 at 4096 x 4096 (decode 1 token, 16 and 128 tokens; --full: 512): time, GB/s of weights, memory",
  plan: ({ tier, backend }) => {
    const { K, N, Ms } = GRID[tier];
    const impls = ["tessera", ...(backend === "cpu" ? ["onnxruntime-node"] : []), ...FORMATS.map(([label]) => `tessera ${label}`)];
    return Ms.flatMap((M) => impls.map((impl) => ({ case: `${M}x${K}x${N}`, impl })));
  },
  async run(ctx) {
    const { K, N, Ms } = GRID[ctx.tier];
    const rows: Row[] = [];
    const w = normal([N, K], 0, 0.02, { seed: 1, backend: "cpu" });
    const wv = w.dataSync() as Float32Array;
    const wT = new Float32Array(K * N); // [K, N] for onnxruntime's MatMul
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wT[k * N + n] = wv[n * K + k];
    const quantized = FORMATS.map(([label, f]) => [label, new QuantizedLinearWeight(quantize(w, f))] as const);
    for (const M of Ms) {
      const xv = normal([M, K], 0, 1, { seed: 2, backend: "cpu" }).dataSync() as Float32Array;
      const f32Bytes = N * K * 4;
      const impls: Impl[] = [
        tesseraImpl(
          ctx.backend,
          () => {
            const x = tensor(xv, { shape: [M, K], backend: ctx.backend });
            const wt = tensor(wv, { shape: [N, K], backend: ctx.backend });
            return { inputs: [x, wt], op: () => linear(x, wt) };
          },
          "tessera",
        ),
      ];
      if (ctx.backend === "cpu")
        impls.push(
          ortImpl(
            {
              opset: 17,
              nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
              inputs: [
                ["x", [M, K]],
                ["w", [K, N]],
              ],
              outputs: [["y", [M, N]]],
            },
            { x: xv, w: wT },
          ),
        );
      for (const [label, q] of quantized) {
        impls.push(
          tesseraImpl(
            ctx.backend,
            () => {
              const x = tensor(xv, { shape: [M, K], backend: ctx.backend });
              return { inputs: [x] as Tensor[], op: () => quantizedLinear(x, q) };
            },
            `tessera ${label}`,
          ),
        );
      }
      const measure = M > 1 && ctx.tier === "full" ? { ...ctx.measure, warmup: 1, minRuns: 3, maxRuns: 5 } : ctx.measure;
      const got = await runCase({ ...ctx, measure }, { suite: "quantize", name: `${M}x${K}x${N}`, impls, flops: 2 * M * K * N, tolerance: Infinity });
      for (const r of got) {
        const q = quantized.find(([label]) => r.impl === `tessera ${label}`)?.[1];
        const bytes = q ? q.q.bytes : f32Bytes;
        r.gbps = bytes / (r.median_ms * 1e6);
        r.note = `${(bytes / 2 ** 20).toFixed(1)} MiB of weights (${((bytes * 8) / (N * K)).toFixed(2)} bits/weight)${q && !q.fused ? "; no fused kernel" : ""}${q && M > (ctx.backend === "cpu" ? CPU_FUSED_MAX_ROWS : FUSED_MAX_ROWS) ? "; dequantized per call" : ""}`;
      }
      rows.push(...got);
    }
    w.dispose();
    return rows;
  },
};

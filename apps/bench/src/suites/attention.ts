/**
 * Causal self-attention at B=1, H=8, Dh=64 for T = 512..4096 (`--full`: 512..8192, where the
 * materialized T x T scores of the reference forms and onnxruntime take GiBs): Tessera's reference (materialized
 * scores) and tiled (online softmax; on cpu the fused WebAssembly SIMD flash kernel) forms and
 * its variants, against a same-shape ONNX graph (MatMul, Mul, Add mask, Softmax, MatMul) on
 * onnxruntime-node. Rows carry time and Tessera's peak tensor memory; variants compute different
 * functions, so only the softmax rows are cross-checked against each other. Without `--full`,
 * T = 4096 times only the tiled form and onnxruntime (the materialized forms take GiBs and
 * minutes there).
 */
import {
  causalMask,
  clippedSoftmaxAttention,
  linearAttention,
  normAttention,
  probSparseAttention,
  scaledDotProductAttention,
  sigmoidAttention,
  slidingWindowAttention,
  toAdditive,
} from "@tessera/attention";
import { normal, tensor, type Tensor } from "@tessera/tensor";
import { ortImpl, tesseraImpl } from "../impls";
import { runCase } from "../run-impls";
import type { Tier } from "../harness";
import type { Impl, Suite } from "../suite";

const [B, H, D] = [1, 8, 64];
const LENGTHS: Record<Tier, number[]> = { quick: [128, 256], default: [512, 1024, 2048, 4096], full: [512, 1024, 2048, 4096, 8192] };
/** Beyond this length the default tier times only the tiled form and onnxruntime. */
const DEFAULT_ALL_MAX = 2048;
const LONG_ONLY = ["tessera tiled", "onnxruntime-node"];
/** The rows of one length: every one, or (default tier, long sequences) the tiled form and onnxruntime. */
const rowsAt = (tier: Tier, Tn: number) => (tier !== "full" && Tn > DEFAULT_ALL_MAX ? { same: LONG_ONLY, variants: false } : { same: SAME, variants: true });
/** Cross-checked against each other: the same function. */
const SAME = ["tessera", "tessera tiled", "tessera mask-ref", "onnxruntime-node"];
/** Different functions: one row each, no cross-check. */
const VARIANTS: [string, (q: Tensor, k: Tensor, v: Tensor) => Tensor][] = [
  ["sigmoid (tiled)", (a, b, c) => sigmoidAttention(a, b, c, { causal: true, implementation: "tiled" })],
  ["clipped (tiled)", (a, b, c) => clippedSoftmaxAttention(a, b, c, { causal: true, gamma: -0.03, implementation: "tiled" })],
  ["linear (chunked)", (a, b, c) => linearAttention(a, b, c, { causal: true, form: "chunked", chunkSize: 128 })],
  ["norm (chunked)", (a, b, c) => normAttention(a, b, c, { causal: true, form: "chunked", chunkSize: 128 })],
  ["window 256", (a, b, c) => slidingWindowAttention(a, b, c, { left: 255, blockSize: 256 })],
  ["probsparse", (a, b, c) => probSparseAttention(a, b, c, { causal: true })],
];

function impls(Tn: number, q: Float32Array, k: Float32Array, v: Float32Array, backend: string): { same: Impl[]; variants: Impl[] } {
  const shape = [B, H, Tn, D];
  const make = (name: string, f: (q: Tensor, k: Tensor, v: Tensor) => Tensor) =>
    tesseraImpl(
      backend,
      () => {
        const [tq, tk, tv] = [q, k, v].map((a) => tensor(a, { shape, backend }));
        return { inputs: [tq, tk, tv], op: () => f(tq, tk, tv) };
      },
      name,
    );
  // ONNX: softmax(Q Kt / 8 + mask) V with Kt and the additive causal mask fed as inputs.
  const kt = new Float32Array(H * Tn * D);
  for (let h = 0; h < H; h++) for (let t = 0; t < Tn; t++) for (let dd = 0; dd < D; dd++) kt[(h * D + dd) * Tn + t] = k[(h * Tn + t) * D + dd];
  const mask = new Float32Array(Tn * Tn);
  for (let i = 0; i < Tn; i++) for (let j = i + 1; j < Tn; j++) mask[i * Tn + j] = -1e30;
  const ort = ortImpl(
    {
      opset: 17,
      nodes: [
        { op: "MatMul", inputs: ["q", "kt"], outputs: ["s"] },
        { op: "Mul", inputs: ["s", "scale"], outputs: ["ss"] },
        { op: "Add", inputs: ["ss", "mask"], outputs: ["sm"] },
        { op: "Softmax", inputs: ["sm"], outputs: ["p"], attrs: [{ name: "axis", int: -1 }] },
        { op: "MatMul", inputs: ["p", "v"], outputs: ["y"] },
      ],
      inputs: [
        ["q", shape],
        ["kt", [B, H, D, Tn]],
        ["scale", [1]],
        ["mask", [Tn, Tn]],
        ["v", shape],
      ],
      outputs: [["y", shape]],
    },
    { q, kt, scale: new Float32Array([1 / Math.sqrt(D)]), mask, v },
  );
  return {
    same: [
      make("tessera", (a, b, c) => scaledDotProductAttention(a, b, c, { causal: true, implementation: "reference" })),
      make("tessera tiled", (a, b, c) => scaledDotProductAttention(a, b, c, { causal: true, implementation: "tiled" })),
      make("tessera mask-ref", (a, b, c) => scaledDotProductAttention(a, b, c, { mask: toAdditive(causalMask(Tn, Tn, { backend })), implementation: "reference" })),
      ort,
    ],
    variants: VARIANTS.map(([name, f]) => make(name, f)),
  };
}

export const attentionSuite: Suite = {
  name: "attention",
  description: "causal attention B=1 H=8 Dh=64, T = 512..4096 (--full: 512..8192): reference vs tiled (fused WASM on cpu) vs variants vs onnxruntime (time, peak memory)",
  plan: ({ tier }) =>
    LENGTHS[tier].flatMap((Tn) => {
      const r = rowsAt(tier, Tn);
      return [...r.same, ...(r.variants ? VARIANTS.map(([name]) => name) : [])].map((impl) => ({ case: `causal T=${Tn}`, impl }));
    }),
  async run(ctx) {
    const rows = [];
    for (const Tn of LENGTHS[ctx.tier]) {
      // Long sequences take seconds per run: no warm-up run there (nothing left to JIT), two timed runs.
      const measure = ctx.tier === "full" ? { ...ctx.measure, warmup: Tn >= 4096 ? 0 : 1, minRuns: 2, maxRuns: 5, budgetMs: 1500 } : ctx.measure;
      const [q, k, v] = [1, 2, 3].map((s) => normal([B, H, Tn, D], 0, 1, { seed: Tn + s, backend: "cpu" }).dataSync() as Float32Array);
      const { same, variants } = impls(Tn, q, k, v, ctx.backend);
      // Causal attention FLOPs: ~2 * 2 * H * T^2 * D / 2 (half the score matrix).
      const flops = 2 * H * Tn * Tn * D;
      const r = rowsAt(ctx.tier, Tn);
      const timed = same.filter((i) => r.same.includes(i.impl));
      rows.push(...(await runCase({ ...ctx, measure }, { suite: "attention", name: `causal T=${Tn}`, impls: timed, flops, tolerance: 1e-4 })));
      if (r.variants)
        for (const vi of variants) rows.push(...(await runCase({ ...ctx, measure }, { suite: "attention", name: `causal T=${Tn}`, impls: [vi], tolerance: Infinity })));
    }
    return rows;
  },
};

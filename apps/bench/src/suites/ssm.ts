/**
 * Linear-time sequence layers against causal softmax attention of the same width (256 = 4
 * heads x 64), forward at B = 1: the Mamba selective scan alone (fused kernel
 * and chunked form), the Mamba and Mamba-2 mixers, a RetNet retention layer and a GLA layer,
 * each a whole token mixer with its projections, and an attention layer (qkv and output
 * projections around tiled causal attention), T = 512, 2k, 8k by default (attention up to 2k, the
 * chunked scan at 512; `--full`: every power of two from 256 to 64k, attention up to 8k, the
 * chunked scan up to 4k). Rows carry time and Tessera's peak tensor memory.
 * The summary gives each layer's growth exponent (log2 of the time ratio per doubling of T,
 * averaged over the measured steps: 1 = linear, 2 = quadratic) and the crossover length where
 * attention becomes slower.
 */
import { scaledDotProductAttention } from "@tessera/attention";
import { exp, linear, neg, normal, reshape, split, tensor, transpose, type Module, type Tensor, type TokenMixer } from "@tessera/tensor";
import { GatedLinearAttention, Mamba2Mixer, MambaMixer, MultiScaleRetention, selectiveScan } from "@tessera/ssm";
import type { Row } from "../harness";
import { tesseraImpl } from "../impls";
import { runCase } from "../run-impls";
import type { Tier } from "../harness";
import type { Impl, Suite } from "../suite";

const ATTENTION = "attention (tiled)";

interface Setup {
  width: number;
  heads: number;
  lengths: number[];
  /** Attention is quadratic: beyond this length one run takes minutes on a 2-core CPU. */
  attentionMaxT: number;
  /** The chunked scan materialises [D, N, Q, Q] per chunk: a reference point, kept to moderate T. */
  chunkedMaxT: number;
}

const SETUPS: Record<Tier, Setup> = {
  quick: { width: 64, heads: 4, lengths: [128, 256], attentionMaxT: Infinity, chunkedMaxT: Infinity },
  default: { width: 256, heads: 4, lengths: [512, 2048, 8192], attentionMaxT: 2048, chunkedMaxT: 512 },
  full: { width: 256, heads: 4, lengths: [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], attentionMaxT: 8192, chunkedMaxT: 4096 },
};

/** The layers measured at length T, in order. */
function layerNames(s: Setup, Tn: number): string[] {
  const names = ["selective scan (fused)", "mamba mixer", "mamba2 mixer", "retention layer", "gla layer"];
  if (Tn <= s.chunkedMaxT) names.splice(1, 0, "selective scan (chunked)");
  if (Tn <= s.attentionMaxT) names.push(ATTENTION);
  return names;
}

function mixerImpl(name: string, backend: string, Tn: number, width: number, x: Float32Array, make: () => TokenMixer & Module): Impl {
  let layer: (TokenMixer & Module) | null = null;
  const impl = tesseraImpl(
    backend,
    () => {
      layer = make();
      const input = tensor(x, { shape: [1, Tn, width], backend });
      return { inputs: [input], op: () => layer!.forward(input).y };
    },
    name,
  );
  return {
    ...impl,
    async setup() {
      const inst = await impl.setup();
      return { ...inst, dispose: () => (inst.dispose(), layer?.dispose()) };
    },
  };
}

/** x [1, T, W] -> qkv projection -> tiled causal attention over H heads -> output projection. */
function attentionImpl(backend: string, Tn: number, s: Setup, x: Float32Array): Impl {
  const dh = s.width / s.heads;
  return tesseraImpl(
    backend,
    () => {
      const input = tensor(x, { shape: [1, Tn, s.width], backend });
      const wqkv = normal([3 * s.width, s.width], 0, 1 / Math.sqrt(s.width), { seed: 1, backend });
      const wo = normal([s.width, s.width], 0, 1 / Math.sqrt(s.width), { seed: 2, backend });
      const heads = (t: Tensor) => transpose(reshape(t, [1, Tn, s.heads, dh]), 1, 2); // [1, H, T, dh]
      return {
        inputs: [input, wqkv, wo],
        op: () => {
          const [q, k, v] = split(linear(input, wqkv), 3, -1).map(heads);
          const o = scaledDotProductAttention(q, k, v, { causal: true, implementation: "tiled" });
          return linear(reshape(transpose(o, 1, 2), [1, Tn, s.width]), wo);
        },
      };
    },
    ATTENTION,
  );
}

/** The selective scan alone at Mamba's shapes for this width: D = 2 W channels, N = 16. */
function scanImpl(name: string, backend: string, Tn: number, width: number, implementation: "fused" | "chunked"): Impl {
  const D = 2 * width;
  const N = 16;
  return tesseraImpl(
    backend,
    () => {
      const u = normal([1, D, Tn], 0, 1, { seed: 1, backend });
      const delta = normal([1, D, Tn], -2, 0.5, { seed: 2, backend });
      const A = neg(exp(normal([D, N], 0, 0.5, { seed: 3, backend })));
      const B = normal([1, N, Tn], 0, 1, { seed: 4, backend });
      const C = normal([1, N, Tn], 0, 1, { seed: 5, backend });
      return { inputs: [u, delta, A, B, C], op: () => selectiveScan(u, delta, A, B, C, { deltaSoftplus: true, implementation }).y };
    },
    name,
  );
}

function impls(backend: string, Tn: number, s: Setup, x: Float32Array): Impl[] {
  const w = s.width;
  const list: Impl[] = [
    scanImpl("selective scan (fused)", backend, Tn, w, "fused"),
    mixerImpl("mamba mixer", backend, Tn, w, x, () => new MambaMixer({ dModel: w, dState: 16, seed: 1, backend })),
    mixerImpl("mamba2 mixer", backend, Tn, w, x, () => new Mamba2Mixer({ dModel: w, dState: 64, headDim: 64, chunkSize: 64, seed: 1, backend })),
    mixerImpl("retention layer", backend, Tn, w, x, () => new MultiScaleRetention({ dModel: w, numHeads: s.heads, chunkSize: 64, seed: 1, backend })),
    mixerImpl("gla layer", backend, Tn, w, x, () => new GatedLinearAttention({ dModel: w, numHeads: s.heads, chunkSize: 16, seed: 1, backend })),
  ];
  if (Tn <= s.chunkedMaxT) list.splice(1, 0, scanImpl("selective scan (chunked)", backend, Tn, w, "chunked"));
  if (Tn <= s.attentionMaxT) list.push(attentionImpl(backend, Tn, s, x));
  return list;
}

export const ssmSuite: Suite = {
  name: "ssm",
  description:
    "selective scan, Mamba/Mamba-2, retention and GLA layers vs causal softmax attention of the same width, T = 512, 2k, 8k (--full: 256..64k) (time, peak memory, growth, crossover)",
  plan: ({ tier }) => SETUPS[tier].lengths.flatMap((Tn) => layerNames(SETUPS[tier], Tn).map((impl) => ({ case: `T=${Tn}`, impl }))),
  async run(ctx) {
    const s = SETUPS[ctx.tier];
    const rows: Row[] = [];
    for (const Tn of s.lengths) {
      // One warm-up run everywhere (steady state: pooled buffers, compiled code), fewer timed runs at long T.
      const measure = ctx.tier === "full" ? { ...ctx.measure, warmup: 1, minRuns: Tn >= 16384 ? 2 : 3, maxRuns: 5, budgetMs: 2000 } : ctx.measure;
      const x = normal([1, Tn, s.width], 0, 1, { seed: Tn, backend: "cpu" }).dataSync() as Float32Array;
      // Different layers compute different functions: no cross-check between rows.
      for (const impl of impls(ctx.backend, Tn, s, x)) rows.push(...(await runCase({ ...ctx, measure }, { suite: "ssm", name: `T=${Tn}`, impls: [impl], tolerance: Infinity })));
    }
    return rows;
  },
  summarize: (rows) => scalingSummary(rows.filter((r) => r.suite === "ssm")),
};

/** Growth exponents and the crossover with attention, from the ssm rows. */
export function scalingSummary(rows: Row[]): string {
  const lengths = [...new Set(rows.map((r) => Number(r.case.slice(2))))].sort((a, b) => a - b);
  const names = [...new Set(rows.map((r) => r.impl))];
  const at = (impl: string, Tn: number) => rows.find((r) => r.impl === impl && r.case === `T=${Tn}`)?.median_ms ?? NaN;
  const lines = ["\nssm scaling: median ms per length; growth = mean log2(time ratio) per doubling (1 linear, 2 quadratic)"];
  lines.push(`  ${"layer".padEnd(26)}${lengths.map((l) => String(l).padStart(10)).join("")}  growth  faster than attention from`);
  for (const name of names) {
    const times = lengths.map((l) => at(name, l));
    const ratios: number[] = [];
    for (let i = 1; i < lengths.length; i++)
      if (Number.isFinite(times[i]) && Number.isFinite(times[i - 1])) ratios.push(Math.log2(times[i] / times[i - 1]) / Math.log2(lengths[i] / lengths[i - 1]));
    const growth = ratios.length ? (ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(2) : "-";
    let cross = "-";
    if (name !== ATTENTION) {
      const l = lengths.find((len) => at(name, len) < at(ATTENTION, len));
      cross = l === undefined ? "not within the measured lengths" : `T = ${l}`;
    }
    lines.push(`  ${name.padEnd(26)}${times.map((t) => (Number.isFinite(t) ? t.toFixed(1) : "-").padStart(10)).join("")}  ${growth.padStart(6)}  ${cross}`);
  }
  const attentionMax = Math.max(...lengths.filter((l) => Number.isFinite(at(ATTENTION, l))));
  if (attentionMax < lengths[lengths.length - 1]) lines.push(`  (attention is measured up to T = ${attentionMax}: its quadratic cost makes longer runs slow here)`);
  return lines.join("\n");
}

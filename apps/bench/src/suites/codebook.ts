/**
 * Codebooks: nearest-code search throughput for K = 1k..64k codes (d = 64, 256; 1024 queries),
 * k-means time, product-quantization search, and weight VQ at 2 bits per weight (4096 x 4096,
 * one token) against the float32 product. Search anchors: tfjs (matMul + argMax, wasm and cpu
 * backends) and a plain-JS loop at the smallest size. The default run searches K = 1k and 8k at
 * d = 64 (tfjs-cpu at 1k only) and fits smaller k-means / PQ / weight-VQ problems (their fitting
 * dominates the time); `--full` runs the whole grid.
 */
import { linear, normal, tensor, type Tensor } from "@tessera/tensor";
import { kmeans, nearestCode, ProductQuantizer, vqLinear, weightVQ, dequantizeVQ } from "@tessera/codebook";
import type { Row } from "../harness";
import { plainImpl, tesseraImpl, tfImpls } from "../impls";
import { runCase } from "../run-impls";
import type { Tier } from "../harness";
import type { Impl, Suite } from "../suite";

interface Grid {
  /** Queries of the search cases. */
  N: number;
  /** [K codes, d] per search case. */
  search: [number, number][];
  /** tfjs-cpu (pure JS) and the plain-JS loop run where K * d is at most these. */
  tfjsCpuMax: number;
  plainMax: number;
  /** k-means points and clusters (d = 64). */
  kmeans: [number, number];
  /** PQ: vectors, dimension, centroids per subspace. */
  pq: [number, number, number];
  /** Weight VQ: [out, in]. */
  vq: [number, number];
}

const GRIDS: Record<Tier, Grid> = {
  quick: { N: 128, search: [[256, 32]], tfjsCpuMax: Infinity, plainMax: Infinity, kmeans: [512, 16], pq: [500, 16, 16], vq: [256, 256] },
  // Fitting (k-means in PQ and weight VQ) takes most of this suite's time: smaller fits by default.
  default: {
    N: 1024,
    search: [
      [1024, 64],
      [8192, 64],
    ],
    tfjsCpuMax: 1024 * 64,
    plainMax: 1024 * 64,
    kmeans: [4096, 256],
    pq: [5000, 32, 256],
    vq: [512, 1024],
  },
  full: {
    N: 1024,
    search: [64, 256].flatMap((d) => [1024, 8192, 65536].map((K): [number, number] => [K, d])),
    tfjsCpuMax: Infinity,
    plainMax: 1024 * 64,
    kmeans: [16384, 256],
    pq: [10000, 64, 256],
    vq: [4096, 4096],
  },
};

const searchName = (N: number, K: number, d: number) => `search N=${N} K=${K} d=${d}`;
const kmeansName = (n: number, k: number) => `kmeans N=${n} K=${k} d=64 (5 iters)`;
const pqName = (n: number, d: number) => `PQ ADC search 64 queries over ${n} (${d / 4} bytes each)`;
const vqName = (out: number, inp: number) => `weight VQ 2-bit 1x${inp}x${out}`;

function plainSearch(x: Float32Array, e: Float32Array, N: number, K: number, d: number): Float32Array {
  const out = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    let best = 0;
    let bd = Infinity;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x[i * d + j] - e[k * d + j]) ** 2;
      if (s < bd) {
        bd = s;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

export const codebookSuite: Suite = {
  name: "codebook",
  description: "nearest-code search (K = 1k, 8k; --full: ..64k), k-means, PQ search and 2-bit weight VQ vs float32",
  plan: ({ tier }) => {
    const g = GRIDS[tier];
    return [
      ...g.search.flatMap(([K, d]) =>
        ["tessera", "tfjs-wasm", ...(K * d <= g.tfjsCpuMax ? ["tfjs-cpu"] : []), ...(K * d <= g.plainMax ? ["plain-js"] : [])].map((impl) => ({
          case: searchName(g.N, K, d),
          impl,
        })),
      ),
      { case: kmeansName(...g.kmeans), impl: "tessera" },
      { case: pqName(g.pq[0], g.pq[1]), impl: "tessera PQ" },
      { case: vqName(...g.vq), impl: "tessera" },
      { case: vqName(...g.vq), impl: "tessera vqLinear" },
    ];
  },
  async run(ctx) {
    const rows: Row[] = [];
    const g = GRIDS[ctx.tier];
    const N = g.N;
    for (const [K, d] of g.search) {
      const x = normal([N, d], 0, 1, { seed: 1, backend: "cpu" }).dataSync() as Float32Array;
      const e = normal([K, d], 0, 1, { seed: 2, backend: "cpu" }).dataSync() as Float32Array;
      const impls: Impl[] = [
        tesseraImpl(ctx.backend, () => {
          const tx = tensor(x, { shape: [N, d], backend: ctx.backend });
          const te = tensor(e, { shape: [K, d], backend: ctx.backend });
          return { inputs: [tx, te], op: () => nearestCode(tx, te) as Tensor };
        }),
        ...tfImpls(
          (tf) => {
            const tx = tf.tensor2d(x, [N, d]);
            const te = tf.tensor2d(e, [K, d]);
            const e2 = tf.sum(tf.square(te), 1);
            return { inputs: [tx, te, e2], op: () => tf.argMax(tf.sub(tf.mul(tf.matMul(tx, te, false, true), 2), e2), 1) };
          },
          K * d <= g.tfjsCpuMax ? ["wasm", "cpu"] : ["wasm"],
        ),
      ];
      if (K * d <= g.plainMax) impls.push(plainImpl(() => plainSearch(x, e, N, K, d)));
      // Indices are not cross-checked: GEMMs that sum in other orders may flip near-ties.
      rows.push(...(await runCase(ctx, { suite: "codebook", name: searchName(N, K, d), impls, flops: 2 * N * K * d, tolerance: Infinity })));
    }
    // k-means: 5 Lloyd iterations (k-means++ seeding included).
    const [kn, kk] = g.kmeans;
    const kx = normal([kn, 64], 0, 1, { seed: 3, backend: "cpu" });
    const kmeansMeasure = ctx.tier === "default" ? { ...ctx.measure, warmup: 0, maxRuns: 3 } : { ...ctx.measure, warmup: 0, minRuns: 2, maxRuns: 3 };
    rows.push(
      ...(await runCase(
        { ...ctx, measure: kmeansMeasure },
        {
          suite: "codebook",
          name: kmeansName(kn, kk),
          impls: [tesseraImpl("cpu", () => ({ inputs: [], op: () => kmeans(kx, kk, { iters: 5, seed: 1 }).centres }))],
          tolerance: Infinity,
        },
      )),
    );
    // Product quantization: ADC search of 64 queries over 10k encoded vectors.
    const [pn, pd, pc] = g.pq;
    const base = normal([pn, pd], 0, 1, { seed: 4, backend: "cpu" });
    const pq = new ProductQuantizer({ dim: pd, subspaces: pd / 4, centroids: pc, iters: 5 }).fit(base);
    const codes = pq.encode(base);
    const queries = normal([64, pd], 0, 1, { seed: 5, backend: "cpu" });
    const pqImpl: Impl = {
      impl: "tessera PQ",
      backend: "cpu",
      async setup() {
        let out = new Float32Array(0);
        return { run: () => void (out = Float32Array.from(pq.search(queries, codes, 10).indices)), result: async () => out, dispose: () => undefined };
      },
    };
    const pqRows = await runCase(ctx, { suite: "codebook", name: pqName(pn, pd), impls: [pqImpl], tolerance: Infinity });
    // Recall@10 against brute force (the true 10 nearest by exact distance).
    const bv = base.dataSync();
    const qv = queries.dataSync();
    const found = pq.search(queries, codes, 10).indices;
    let hits = 0;
    let first = 0;
    for (let a = 0; a < 64; a++) {
      const exact = Array.from({ length: pn }, (_, i) => {
        let s2 = 0;
        for (let j = 0; j < pd; j++) s2 += (qv[a * pd + j] - bv[i * pd + j]) ** 2;
        return [i, s2] as const;
      })
        .sort((x, y) => x[1] - y[1])
        .slice(0, 10)
        .map((p) => p[0]);
      const set = new Set(Array.from(found.subarray(a * 10, a * 10 + 10)));
      hits += exact.filter((i) => set.has(i)).length;
      if (set.has(exact[0])) first++;
    }
    for (const r of pqRows) r.note = `10-recall@10 ${(hits / 640).toFixed(3)}, 1-recall@10 ${(first / 64).toFixed(3)} vs brute force (i.i.d. Gaussian data: the hard case)`;
    rows.push(...pqRows);
    // Weight VQ at 2 bits per weight vs the float32 product, one token.
    const [wn, wk] = g.vq;
    const W = normal([wn, wk], 0, 0.02, { seed: 6, backend: "cpu" });
    const q = weightVQ(W, { vec: 4, codes: 256, iters: 3, seed: 1 });
    const wv = W.dataSync();
    const dq = dequantizeVQ(q);
    let num = 0;
    let den = 0;
    for (let i = 0; i < dq.length; i++) {
      num += (dq[i] - wv[i]) ** 2;
      den += wv[i] ** 2;
    }
    const xv = normal([1, wk], 0, 1, { seed: 7, backend: "cpu" }).dataSync() as Float32Array;
    const got = await runCase(ctx, {
      suite: "codebook",
      name: vqName(wn, wk),
      impls: [
        tesseraImpl("cpu", () => {
          const x = tensor(xv, { shape: [1, wk] });
          return { inputs: [x], op: () => linear(x, W) };
        }),
        tesseraImpl(
          "cpu",
          () => {
            const x = tensor(xv, { shape: [1, wk] });
            return { inputs: [x], op: () => vqLinear(x, q) };
          },
          "tessera vqLinear",
        ),
      ],
      tolerance: Infinity,
    });
    for (const r of got)
      r.note =
        r.impl === "tessera"
          ? `float32, ${((wn * wk * 4) / 2 ** 20).toFixed(0)} MiB`
          : `2 bits/weight (${((wn * wk) / 4 / 2 ** 20).toFixed(1)} MiB of indices + 4 KiB codebook); weight relative error ${Math.sqrt(num / den).toFixed(3)}`;
    rows.push(...got);
    W.dispose();
    return rows;
  },
};

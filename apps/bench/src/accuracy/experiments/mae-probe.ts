/**
 * Experiment C: masked-image-modelling pre-training vs none, and random vs block-wise masking,
 * measured as the MAE paper measures it (He et al. 2022, §4 "linear probing"): the encoder is
 * frozen, its features go through a BatchNorm without affine parameters (here: standardised with
 * the training set's statistics, what that BatchNorm computes at evaluation) and a linear
 * classifier. Data: the vendored Fashion-MNIST subset (2000 train / 500 test, 10 classes).
 *   none        the encoder at its initial weights (the same for every condition);
 *   MAE random  @tessera/models MaskedAutoencoderViT pre-trained on the 2000 training images
 *               (labels unused) with randomMask at 75% (MAE's default) and norm-pix targets;
 *   MAE block   the same, but the masked patches come from blockwiseMask (BEiT §2.5: blocks of
 *               random aspect ratio, budget 75% of the patches); MAE keeps exactly
 *               floor(N / 4) patches, so when the blocks fall short of the budget the remaining
 *               patches to hide are drawn at random among the unmasked ones (noise = mask + a
 *               uniform jitter below 1, argsorted as MaskedAutoencoderViT's `noise` argument).
 * Features: the CLS token and the mean of the patch tokens of the encoder on all patches
 * (`encode`, no masking), each probed; raw pixels are probed too, as a reference.
 */
import * as T from "@tessera/tensor";
import { MaskedAutoencoderViT, vitBlock } from "@tessera/models";
import { blockwiseMask } from "@tessera/masked";
import { cpuThreads } from "../../backends";
import { seededRandom } from "../../tasks/random";
import { FASHION_MNIST_SIDE, type ImageExample } from "../../tasks/fashion-mnist";
import { fashionMnist } from "../../tasks/node";
import { linearProbe, type Features, type ProbeResult } from "../probe";
import { firstLast, sampleBatch, trainLoop } from "../text-pretrain";
import { pct, stdError, type AccuracyExperiment, type ExperimentRow } from "./experiment";

export interface MaeConfig {
  patch: number;
  dModel: number;
  layers: number;
  heads: number;
  inner: number;
  decoderDim: number;
  decoderLayers: number;
  decoderHeads: number;
  maskRatio: number;
  /** blockwiseMask's smallest block, in patches. */
  minBlock: number;
  steps: number;
  batch: number;
  lr: number;
  probeSteps: number;
  seed: number;
  /** Use only the first n / 10 images of each class per split (the smoke test). */
  limit?: number;
}

export const MAE_CONFIGS: Record<"default" | "quick", MaeConfig> = {
  default: {
    patch: 4,
    dModel: 64,
    layers: 3,
    heads: 4,
    inner: 128,
    decoderDim: 32,
    decoderLayers: 1,
    decoderHeads: 2,
    maskRatio: 0.75,
    minBlock: 4,
    steps: 300,
    batch: 64,
    lr: 2e-3,
    probeSteps: 300,
    seed: 0,
  },
  quick: {
    patch: 7,
    dModel: 16,
    layers: 1,
    heads: 2,
    inner: 32,
    decoderDim: 16,
    decoderLayers: 1,
    decoderHeads: 2,
    maskRatio: 0.75,
    minBlock: 2,
    steps: 3,
    batch: 8,
    lr: 2e-3,
    probeSteps: 20,
    seed: 0,
    limit: 50,
  },
};

export type MimMasking = "random" | "block";

/** Fashion-MNIST's pixel mean and standard deviation over the training set (0-1 scale). */
const PIXEL_MEAN = 0.286;
const PIXEL_STD = 0.353;

/** Images [B, 1, 28, 28], normalised. */
export function imageBatch(xs: readonly ImageExample[]): T.Tensor {
  const S = FASHION_MNIST_SIDE;
  const out = new Float32Array(xs.length * S * S);
  xs.forEach((x, b) => {
    for (let i = 0; i < S * S; i++) out[b * S * S + i] = (x.pixels[i] / 255 - PIXEL_MEAN) / PIXEL_STD;
  });
  return T.tensor(out, { shape: [xs.length, 1, S, S] });
}

export function smallMae(c: MaeConfig): MaskedAutoencoderViT {
  const gen = new T.Generator(c.seed);
  const block = (d: number, heads: number, hidden: number, layer: number) =>
    vitBlock({ dModel: d, nHeads: heads, hidden, activation: "gelu", eps: 1e-6, initStd: 0.02, seed: gen }, {}, layer);
  return new MaskedAutoencoderViT({
    imageSize: FASHION_MNIST_SIDE,
    patchSize: c.patch,
    channels: 1,
    dModel: c.dModel,
    blocks: Array.from({ length: c.layers }, (_, l) => block(c.dModel, c.heads, c.inner, l)),
    decoderDim: c.decoderDim,
    decoderBlocks: Array.from({ length: c.decoderLayers }, (_, l) => block(c.decoderDim, c.decoderHeads, 2 * c.decoderDim, l)),
    eps: 1e-6,
    maskRatio: c.maskRatio,
    normPixLoss: true,
    seed: gen,
  });
}

/** [B, N] noise whose ascending order puts blockwiseMask's unmasked patches first (ties broken by a uniform jitter in [0, 0.5)). */
export function blockwiseNoise(batch: number, grid: number, c: MaeConfig, seed: number): T.Tensor {
  const N = grid * grid;
  const numMasked = N - Math.floor(N * (1 - c.maskRatio));
  return T.tidy(() => {
    const mask = T.reshape(blockwiseMask(grid, grid, { numMasked, minPatches: c.minBlock, batch, seed }), [batch, N]); // [B, N] 1 = masked
    const rng = seededRandom(seed);
    const jitter = T.tensor(
      Float32Array.from({ length: batch * N }, () => 0.5 * rng()),
      { shape: [batch, N] },
    );
    return T.add(T.cast(mask, "float32"), jitter);
  });
}

/** Probe features of the frozen encoder: CLS and mean-pooled patch tokens. */
export function maeFeatures(model: MaskedAutoencoderViT, xs: readonly ImageExample[], batch = 100): { cls: Features; mean: Features } {
  const D = model.opts.dModel;
  const cls = new Float32Array(xs.length * D);
  const mean = new Float32Array(xs.length * D);
  for (let i = 0; i < xs.length; i += batch) {
    T.tidy(() => {
      const h = model.encode(imageBatch(xs.slice(i, i + batch)), { pool: "none" }); // [B, 1 + N, D]
      cls.set(T.select(h, 1, 0).dataSync() as Float32Array, i * D);
      mean.set(T.mean(T.narrow(h, 1, 1, model.numPatches), 1).dataSync() as Float32Array, i * D);
    });
  }
  const y = xs.map((x) => x.label);
  return { cls: { x: cls, y, dim: D }, mean: { x: mean, y, dim: D } };
}

function pixelFeatures(xs: readonly ImageExample[]): Features {
  const P = FASHION_MNIST_SIDE ** 2;
  const x = new Float32Array(xs.length * P);
  xs.forEach((e, i) => {
    for (let j = 0; j < P; j++) x[i * P + j] = e.pixels[j] / 255;
  });
  return { x, y: xs.map((e) => e.label), dim: P };
}

const balanced = (xs: ImageExample[], limit?: number) => (limit ? Array.from({ length: 10 }, (_, c) => xs.filter((x) => x.label === c).slice(0, limit / 10)).flat() : xs);

export const maeExperiment: AccuracyExperiment = {
  name: "mae-probe",
  description: "MAE pre-training (random vs block-wise masking) vs none on Fashion-MNIST: linear-probe accuracy of the frozen ViT encoder (MAE protocol)",
  async run(ctx) {
    const c = { ...MAE_CONFIGS[ctx.quick ? "quick" : "default"], ...(ctx.seed === undefined ? {} : { seed: ctx.seed }) };
    const train = balanced(fashionMnist({ split: "train" }), c.limit);
    const test = balanced(fashionMnist({ split: "test" }), c.limit);
    const grid = FASHION_MNIST_SIDE / c.patch;
    const setup = `ViT encoder d=${c.dModel} L=${c.layers} heads=${c.heads} mlp=${c.inner}, patch ${c.patch} (${grid}x${grid} patches); decoder d=${c.decoderDim} L=${c.decoderLayers}; mask ratio ${c.maskRatio}, norm-pix loss; ${c.steps} steps x batch ${c.batch} over ${train.length} training images, AdamW lr ${c.lr}, seed ${c.seed}; probe ${c.probeSteps} full-batch steps, ${train.length} -> test ${test.length}; cpu ${cpuThreads} thread(s)`;
    ctx.log(`mae-probe: ${setup}`);
    const rows: ExperimentRow[] = [];
    const row = (condition: string, probes: { cls?: ProbeResult; mean: ProbeResult }, extra: Partial<ExperimentRow>) => {
      const r: ExperimentRow = {
        experiment: "mae-probe",
        condition,
        accuracy: probes.mean.testAccuracy,
        testCount: probes.mean.testCount,
        clsAccuracy: probes.cls?.testAccuracy,
        trainAccuracy: probes.mean.trainAccuracy,
        ...extra,
      };
      ctx.log(`  ${condition}: probe (mean) ${pct(r.accuracy)}%${probes.cls ? `, (CLS) ${pct(probes.cls.testAccuracy)}%` : ""}`);
      rows.push(r);
    };
    const pixels = linearProbe(pixelFeatures(train), pixelFeatures(test), { classes: 10, steps: c.probeSteps });
    row("raw pixels (reference)", { mean: pixels }, {});
    for (const condition of ["none", "random", "block"] as const) {
      const t0 = performance.now();
      const model = smallMae(c);
      let losses: number[] = [];
      if (condition !== "none") {
        const rng = seededRandom(c.seed + 11);
        model.train();
        losses = await trainLoop(
          model.namedParameters(),
          (step) => {
            const images = imageBatch(sampleBatch(train, c.batch, rng));
            const seed = c.seed * 100_003 + step;
            const noise = condition === "block" ? blockwiseNoise(c.batch, grid, c, seed) : undefined;
            return model.forward(images, { seed, noise }).loss;
          },
          {
            steps: c.steps,
            lr: c.lr,
            onStep: (step, loss) => {
              if (step % 50 === 0) ctx.log(`  MAE ${condition} step ${step}/${c.steps}: loss ${loss.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
            },
          },
        );
      }
      const seconds = (performance.now() - t0) / 1000;
      model.eval();
      const ftr = maeFeatures(model, train);
      const fte = maeFeatures(model, test);
      const probes = { cls: linearProbe(ftr.cls, fte.cls, { classes: 10, steps: c.probeSteps }), mean: linearProbe(ftr.mean, fte.mean, { classes: 10, steps: c.probeSteps }) };
      model.dispose();
      const [first, last] = losses.length ? firstLast(losses) : [NaN, NaN];
      row(condition === "none" ? "none (random init)" : `MAE, ${condition === "random" ? "random" : "block-wise"} masking`, probes, {
        steps: losses.length,
        lossFirst: first,
        lossLast: last,
        pretrainSeconds: seconds,
      });
    }
    const se = stdError(0.75, rows[0].testCount);
    const f = (v: unknown, d = 2) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "-");
    const lines = [
      `mae-probe: Fashion-MNIST linear probe (BatchNorm without affine + linear) on the frozen encoder (${setup})`,
      "| encoder | probe test acc. % (mean-pooled) | (CLS) | MAE loss first -> last 10% of steps | pre-training s |",
      "| --- | ---: | ---: | --- | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.condition} | ${pct(r.accuracy)} | ${r.clsAccuracy === undefined ? "-" : pct(r.clsAccuracy as number)} | ${r.steps ? `${f(r.lossFirst)} -> ${f(r.lossLast)}` : "-"} | ${f(r.pretrainSeconds, 0)} |`,
      ),
      `binomial standard error at 75% over ${rows[0].testCount} test images: ${pct(se)} points; the MAE losses (norm-pix MSE on the masked patches) of the two maskings are not comparable (block-wise hides contiguous regions).`,
    ];
    return { rows, table: lines.join("\n") };
  },
};

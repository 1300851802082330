/**
 * Experiment: MaskGIT on VQTokenizer codes (issue 15 §4, bullet 2), on the vendored Fashion-MNIST
 * subset (2000 train / 500 test images, 28x28):
 *   1. a VQTokenizer (downsample 4: a 7x7 grid of codes) learns to reconstruct the train images;
 *   2. every train image and its mirror image are encoded to codes;
 *   3. a MaskGIT transformer learns the codes class-conditionally (cosine mask schedule, 10% of
 *      the rows with the null class);
 *   4. samples per class by 8-step MaskGIT decoding (temperature `temperature`), decoded to
 *      images and saved as a PNG grid (a row per class);
 *   5. a separate MLP classifier, trained on the real train images only, scores the real test
 *      images, the tokenizer's reconstructions of them, the MaskGIT samples and samples decoded
 *      token by token (raster order, one token per forward pass, same transformer);
 *   6. decoding time of one batch (a sample per class): 8 MaskGIT steps vs 49 token-by-token
 *      passes (median of `timingRepeats`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as T from "@tessera/tensor";
import { MaskGITTransformer, VQTokenizer } from "@tessera/models";
import { cpuThreads } from "../../backends";
import { FASHION_MNIST_CLASSES } from "../../tasks/fashion-mnist";
import { fashionMnist, fashionMnistDir } from "../../tasks/node";
import {
  classAccuracy,
  encodeSet,
  ImageClassifier,
  imageBatch,
  imageSet,
  toBytes,
  tokenByTokenDecode,
  trainClassifier,
  trainTokenizer,
  trainTransformer,
  type ImageSet,
} from "../image-gen";
import { encodeGrayPng, tileGrid } from "../png";
import { pct, type AccuracyExperiment, type ExperimentRow } from "./experiment";

export interface MaskgitConfig {
  /** Train images used (of 2000) and test images scored (of 500); the first ones, classes balanced. */
  trainImages: number;
  testImages: number;
  tokenizer: { widths: [number, number]; latentDim: number; codebookSize: number; steps: number; batch: number; lr: number };
  transformer: { dModel: number; layers: number; heads: number; steps: number; batch: number; lr: number; classDropout: number };
  classifier: { hidden: number; steps: number; batch: number; lr: number };
  samplesPerClass: number;
  decodeSteps: number;
  temperature: number;
  timingRepeats: number;
  seed: number;
  /** Write the PNG grid of MaskGIT samples to apps/bench/results/maskgit-samples.png (-seed<N> before .png for seed N > 0). */
  writePng: boolean;
}

export const MASKGIT_CONFIGS: Record<"default" | "quick", MaskgitConfig> = {
  default: {
    trainImages: 2000,
    testImages: 500,
    tokenizer: { widths: [16, 32], latentDim: 16, codebookSize: 64, steps: 400, batch: 32, lr: 2e-3 },
    transformer: { dModel: 64, layers: 4, heads: 4, steps: 800, batch: 64, lr: 1e-3, classDropout: 0.1 },
    classifier: { hidden: 256, steps: 600, batch: 64, lr: 1e-3 },
    samplesPerClass: 10,
    decodeSteps: 8,
    temperature: 2,
    timingRepeats: 3,
    seed: 0,
    writePng: true,
  },
  quick: {
    trainImages: 100,
    testImages: 50,
    tokenizer: { widths: [8, 8], latentDim: 8, codebookSize: 16, steps: 3, batch: 8, lr: 2e-3 },
    transformer: { dModel: 16, layers: 1, heads: 2, steps: 3, batch: 8, lr: 1e-3, classDropout: 0.1 },
    classifier: { hidden: 16, steps: 5, batch: 16, lr: 1e-3 },
    samplesPerClass: 1,
    decodeSteps: 8,
    temperature: 2,
    timingRepeats: 1,
    seed: 0,
    writePng: false,
  },
};

/** The first examples of each class, ceil(n / 10) per class, in index order (n in all at most). */
function balanced<X extends { label: number }>(xs: X[], n: number): X[] {
  const per = Math.ceil(n / 10);
  const count = new Array(10).fill(0);
  const out: X[] = [];
  for (const x of xs) {
    if (out.length === n) break;
    if (count[x.label] < per) {
      count[x.label]++;
      out.push(x);
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed<R>(f: () => R | Promise<R>): Promise<{ result: R; ms: number }> {
  const t0 = performance.now();
  const result = await f();
  return { result, ms: performance.now() - t0 };
}

/** Images [B, 1, 28, 28] of codes [B, N]. */
const imagesOf = (tok: VQTokenizer, codes: T.Tensor): T.Tensor => T.tidy(() => tok.decode(T.reshape(codes, [codes.shape[0], ...tok.gridSize])));

export async function runMaskgit(c: MaskgitConfig, log: (s: string) => void): Promise<{ rows: ExperimentRow[]; table: string; png: Uint8Array }> {
  const t0 = performance.now();
  const secs = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  const train = imageSet(balanced(fashionMnist({ split: "train" }), c.trainImages));
  const test = imageSet(balanced(fashionMnist({ split: "test" }), c.testImages));
  const s = c.seed;

  // 1. The tokenizer.
  const tk = c.tokenizer;
  const tok = new VQTokenizer({ imageSize: 28, widths: tk.widths, groups: Math.min(8, tk.widths[0]), latentDim: tk.latentDim, codebookSize: tk.codebookSize, seed: s });
  const N = tok.gridSize[0] * tok.gridSize[1];
  const tokMse = trainTokenizer(tok, train, {
    ...tk,
    seed: s + 1,
    onLog: (step, f) => log(`  tokenizer step ${step}/${tk.steps}: mse ${f.mse.toFixed(4)}, usage ${pct(f.usage)}%, perplexity ${f.perplexity.toFixed(1)} (${secs()})`),
  });
  const tokSeconds = (performance.now() - t0) / 1000;

  // 2. Codes of the train images and their mirror images; the test reconstructions.
  const data = encodeSet(tok, train, true);
  const usedCodes = new Set(data.codes).size;
  const testCodes = encodeSet(tok, test, false);
  const recon: number[][] = [];
  let testMse = 0;
  for (let i = 0; i < test.count; i += 100) {
    const ids = Array.from({ length: Math.min(100, test.count - i) }, (_, k) => i + k);
    T.tidy(() => {
      const x = imageBatch(test, ids);
      const codes = T.tensor(testCodes.codes.subarray(i * N, (i + ids.length) * N), { shape: [ids.length, N], dtype: "int32" });
      const r = imagesOf(tok, codes);
      testMse += T.mseLoss(r, x).itemSync() * ids.length;
      recon.push(...toBytes(r).map((b) => Array.from(b)));
    });
  }
  testMse /= test.count;
  log(`  codes: ${data.count} rows of ${N}, ${usedCodes}/${tk.codebookSize} codes used; test reconstruction mse ${testMse.toFixed(4)} (${secs()})`);

  // 3. The transformer.
  const tr = c.transformer;
  const t1 = performance.now();
  const model = new MaskGITTransformer({ codebookSize: tk.codebookSize, length: N, numClasses: 10, dModel: tr.dModel, layers: tr.layers, heads: tr.heads, seed: s + 2 });
  const trLosses = trainTransformer(model, data, {
    ...tr,
    seed: s + 3,
    every: 100,
    onLog: (step, f) => log(`  transformer step ${step}/${tr.steps}: masked-token loss ${f.loss.toFixed(3)} (${secs()})`),
  });
  const trSeconds = (performance.now() - t1) / 1000;

  // 5. The judge.
  const cl = c.classifier;
  const clf = new ImageClassifier(cl.hidden, s + 4);
  trainClassifier(clf, train, { ...cl, seed: s + 5, every: 200, onLog: (step, f) => log(`  classifier step ${step}/${cl.steps}: loss ${f.loss.toFixed(3)} (${secs()})`) });
  const predictSet = (set: ImageSet) => {
    const out: number[] = [];
    for (let i = 0; i < set.count; i += 100) {
      const x = imageBatch(
        set,
        Array.from({ length: Math.min(100, set.count - i) }, (_, k) => i + k),
      );
      out.push(...clf.predict(x));
      x.dispose();
    }
    return out;
  };
  const realAcc = classAccuracy(predictSet(test), test.labels);
  const reconSet: ImageSet = { pixels: Float32Array.from(recon.flat(), (v) => v / 127.5 - 1), labels: test.labels, count: test.count };
  const reconAcc = classAccuracy(predictSet(reconSet), test.labels);

  // 4. Samples: MaskGIT and token by token, samplesPerClass per class (one decode call per sample column).
  const classes = Array.from({ length: 10 }, (_, k) => k);
  const sampleLabels: number[] = [];
  const maskgitImages: Uint8Array[] = new Array(10 * c.samplesPerClass);
  const maskgitPred: number[] = [];
  const arPred: number[] = [];
  const classify = (codes: T.Tensor) => {
    const imgs = imagesOf(tok, codes);
    const pred = clf.predict(imgs);
    const bytes = toBytes(imgs);
    imgs.dispose();
    return { pred, bytes };
  };
  for (let j = 0; j < c.samplesPerClass; j++) {
    const mg = await model.generate({ classLabel: classes, steps: c.decodeSteps, temperature: c.temperature, seed: s * 1000 + j });
    const m = classify(mg.tokens);
    mg.tokens.dispose();
    m.bytes.forEach((b, k) => (maskgitImages[k * c.samplesPerClass + j] = b)); // row = class, column = sample
    maskgitPred.push(...m.pred);
    const ar = tokenByTokenDecode(model, classes, s * 1000 + j);
    arPred.push(...classify(ar).pred);
    ar.dispose();
    sampleLabels.push(...classes);
  }
  const maskgitAcc = classAccuracy(maskgitPred, sampleLabels);
  const arAcc = classAccuracy(arPred, sampleLabels);
  log(`  samples: MaskGIT ${pct(maskgitAcc.mean)}%, token by token ${pct(arAcc.mean)}% judged as their class (${secs()})`);
  const grid = tileGrid(maskgitImages, 10, c.samplesPerClass, 28);
  const png = encodeGrayPng(grid.pixels, grid.width, grid.height);
  if (c.writePng) {
    const file = join(dirname(dirname(fashionMnistDir())), "results", `maskgit-samples${s ? `-seed${s}` : ""}.png`); // apps/bench/results/
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, png);
    log(`  wrote ${file} (${grid.width}x${grid.height}, ${png.length} bytes)`);
  }

  // 6. Decoding time, one batch of 10 (a sample per class); the first call of each warms up.
  const mgMs: number[] = [];
  const arMs: number[] = [];
  for (let r = 0; r <= c.timingRepeats; r++) {
    const a = await timed(async () => (await model.generate({ classLabel: classes, steps: c.decodeSteps, temperature: c.temperature, seed: 77 + r })).tokens);
    const b = await timed(() => tokenByTokenDecode(model, classes, 77 + r));
    T.dispose([a.result, b.result]);
    if (r > 0 || c.timingRepeats === 0) [mgMs, arMs].forEach((xs, k) => xs.push([a.ms, b.ms][k]));
  }
  const [mgTime, arTime] = [median(mgMs), median(arMs)];
  for (const m of [tok, model, clf]) m.dispose();

  const setup = `tokenizer widths [${tk.widths}] D=${tk.latentDim} K=${tk.codebookSize} (7x7 codes), ${tk.steps} steps x ${tk.batch}; transformer d=${tr.dModel} L=${tr.layers} heads=${tr.heads}, ${tr.steps} steps x ${tr.batch}; classifier MLP ${cl.hidden}, ${cl.steps} steps; ${c.trainImages} train / ${c.testImages} test images; seed ${s}; cpu ${cpuThreads} thread(s)`;
  const base = { experiment: "maskgit" };
  const perClass = (a: ReturnType<typeof classAccuracy>) => Object.fromEntries(a.perClass.map((v, k) => [`class${k}`, v]));
  const rows: ExperimentRow[] = [
    { ...base, condition: "real test images", accuracy: realAcc.mean, testCount: realAcc.count, ...perClass(realAcc) },
    { ...base, condition: "tokenizer reconstructions", accuracy: reconAcc.mean, testCount: reconAcc.count, mse: testMse, ...perClass(reconAcc) },
    {
      ...base,
      condition: `maskgit ${c.decodeSteps} steps`,
      accuracy: maskgitAcc.mean,
      testCount: maskgitAcc.count,
      forwardPasses: c.decodeSteps,
      decodeMs: mgTime,
      ...perClass(maskgitAcc),
    },
    { ...base, condition: `token by token ${N} steps`, accuracy: arAcc.mean, testCount: arAcc.count, forwardPasses: N, decodeMs: arTime, ...perClass(arAcc) },
  ];
  const short = FASHION_MNIST_CLASSES.map((n) => n.split(/[ /]/)[0]);
  const [first, last] = [tokMse.slice(0, 10), tokMse.slice(-10)].map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
  const [lf, ll] = [trLosses.slice(0, 20), trLosses.slice(-20)].map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
  const table = [
    `maskgit: class-conditional MaskGIT on VQTokenizer codes of Fashion-MNIST (${setup})`,
    `tokenizer: train mse ${first.toFixed(3)} -> ${last.toFixed(3)} (first / last 10 steps; pixels in [-1, 1]), test mse ${testMse.toFixed(4)}, ${usedCodes}/${tk.codebookSize} codes used, ${tokSeconds.toFixed(0)} s; transformer: masked-token loss ${lf.toFixed(2)} -> ${ll.toFixed(2)} (first / last 20 steps), ${trSeconds.toFixed(0)} s`,
    `| images judged by the real-image classifier | n | ${short.join(" | ")} | mean |`,
    `| --- | ---: | ${short.map(() => "---:").join(" | ")} | ---: |`,
    ...[
      ["real test images", realAcc],
      ["tokenizer reconstructions of them", reconAcc],
      [`MaskGIT samples (${c.decodeSteps} steps, temperature ${c.temperature})`, maskgitAcc],
      [`token-by-token samples (${N} steps)`, arAcc],
    ].map(([name, a]) => {
      const acc = a as ReturnType<typeof classAccuracy>;
      return `| ${name} | ${acc.count} | ${acc.perClass.map(pct).join(" | ")} | ${pct(acc.mean)} |`;
    }),
    "",
    "| decoding one batch of 10 (a sample per class) | forward passes | ms (median) | ms per pass |",
    "| --- | ---: | ---: | ---: |",
    `| MaskGIT | ${c.decodeSteps} | ${mgTime.toFixed(0)} | ${(mgTime / c.decodeSteps).toFixed(1)} |`,
    `| token by token | ${N} | ${arTime.toFixed(0)} | ${(arTime / N).toFixed(1)} |`,
    `MaskGIT decodes ${(arTime / mgTime).toFixed(1)}x faster. Sample accuracies are over ${maskgitAcc.count} samples (${c.samplesPerClass} per class): a binomial standard error of up to ${pct(Math.sqrt(0.25 / maskgitAcc.count))} points.`,
  ].join("\n");
  return { rows, table, png };
}

export const maskgitExperiment: AccuracyExperiment = {
  name: "maskgit",
  description:
    "MaskGIT on VQTokenizer codes of Fashion-MNIST: class-conditional samples (PNG grid), their accuracy under a separately trained classifier, and 8-step vs token-by-token decode time",
  async run(ctx) {
    const config = MASKGIT_CONFIGS[ctx.quick ? "quick" : "default"];
    const { rows, table } = await runMaskgit(ctx.seed === undefined ? config : { ...config, seed: ctx.seed }, ctx.log);
    return { rows, table };
  },
};

/**
 * The pieces of the MaskGIT experiment (issue 15 §4): Fashion-MNIST as tensors, training loops
 * for the VQTokenizer, the MaskGIT transformer and a small image classifier, token-by-token
 * decoding with the same transformer, and images back to 8-bit pixels. Every loop is seeded
 * (weights by seed, batches by Mulberry32, masks by the step number).
 */
import * as T from "@tessera/tensor";
import { lrSchedule, MaskGITTransformer, VQTokenizer } from "@tessera/models";
import { FASHION_MNIST_SIDE as S, type ImageExample } from "../tasks/fashion-mnist";
import { seededRandom } from "../tasks/random";

const PIXELS = S * S;

/** Images scaled to [-1, 1] (a flat [n * 784] array) and their labels. */
export interface ImageSet {
  pixels: Float32Array;
  labels: number[];
  count: number;
}

export function imageSet(xs: ImageExample[]): ImageSet {
  const pixels = new Float32Array(xs.length * PIXELS);
  xs.forEach((x, i) => {
    for (let p = 0; p < PIXELS; p++) pixels[i * PIXELS + p] = x.pixels[p] / 127.5 - 1;
  });
  return { pixels, labels: xs.map((x) => x.label), count: xs.length };
}

/** A batch [B, 1, 28, 28] of the given images, each mirrored left-right where flip says so. */
export function imageBatch(set: ImageSet, ids: number[], flip: boolean[] = []): T.Tensor {
  const out = new Float32Array(ids.length * PIXELS);
  ids.forEach((id, b) => {
    const src = set.pixels.subarray(id * PIXELS, (id + 1) * PIXELS);
    if (!flip[b]) out.set(src, b * PIXELS);
    else for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) out[b * PIXELS + y * S + x] = src[y * S + (S - 1 - x)];
  });
  return T.tensor(out, { shape: [ids.length, 1, S, S] });
}

/** [B, 1, 28, 28] in [-1, 1] -> one Uint8Array of 784 pixels per image. */
export function toBytes(images: T.Tensor): Uint8Array[] {
  const d = images.dataSync();
  return Array.from({ length: images.shape[0] }, (_, b) =>
    Uint8Array.from(d.subarray(b * PIXELS, (b + 1) * PIXELS), (v) => Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255)),
  );
}

export interface LoopOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** Called every `every` steps (and at the last) with the step and figures of that step. */
  onLog?: (step: number, figures: Record<string, number>) => void;
  every?: number;
}

/** AdamW with linear warmup (5%) then cosine decay to lr / 10. */
function optimiser(params: Record<string, T.Tensor>, o: LoopOptions): { step: (s: number, grads: Record<string, T.Tensor>) => void; dispose: () => void } {
  const opt = new T.AdamW(params, { lr: o.lr, weightDecay: 0.01 });
  const schedule = lrSchedule({ peak: o.lr, warmup: Math.max(1, Math.floor(o.steps / 20)), total: Math.max(2, o.steps), minLr: o.lr / 10 });
  return {
    step(s, grads) {
      opt.lr = schedule(s);
      opt.step(grads);
    },
    dispose: () => opt.dispose(),
  };
}

const shouldLog = (o: LoopOptions, s: number) => o.onLog && ((s + 1) % (o.every ?? 50) === 0 || s === o.steps - 1);

/** Trains the tokenizer on random batches (random horizontal flips); returns per-step reconstruction MSEs. */
export function trainTokenizer(tok: VQTokenizer, set: ImageSet, o: LoopOptions): number[] {
  tok.train();
  const params = tok.namedParameters();
  const opt = optimiser(params, o);
  const rng = seededRandom(o.seed);
  const mse: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const ids = Array.from({ length: o.batch }, () => Math.floor(rng() * set.count));
    const flips = ids.map(() => rng() < 0.5);
    const x = imageBatch(set, ids, flips);
    let fig: Record<string, number> = {};
    const { value, grads } = T.gradients(() => {
      const out = tok.forward(x);
      fig = { mse: out.reconstructionLoss.itemSync(), commitment: out.commitmentLoss.itemSync(), usage: out.usage ?? NaN, perplexity: out.perplexity ?? NaN };
      return out.loss;
    }, params);
    opt.step(s, grads);
    T.dispose([value, grads, x]);
    mse.push(fig.mse);
    if (shouldLog(o, s)) o.onLog!(s + 1, fig);
  }
  opt.dispose();
  tok.eval();
  return mse;
}

/** Codes [n, h w] of every image (and, with flips, of every mirrored image after them). */
export function encodeSet(tok: VQTokenizer, set: ImageSet, withFlips: boolean, batch = 100): { codes: Int32Array; labels: number[]; count: number } {
  const N = tok.gridSize[0] * tok.gridSize[1];
  const passes = withFlips ? [false, true] : [false];
  const codes = new Int32Array(passes.length * set.count * N);
  const labels: number[] = [];
  let row = 0;
  for (const flip of passes) {
    for (let i = 0; i < set.count; i += batch) {
      const ids = Array.from({ length: Math.min(batch, set.count - i) }, (_, k) => i + k);
      const x = imageBatch(
        set,
        ids,
        ids.map(() => flip),
      );
      const c = tok.encode(x);
      codes.set(c.dataSync(), row * N);
      T.dispose([x, c]);
      row += ids.length;
      labels.push(...ids.map((id) => set.labels[id]));
    }
  }
  return { codes, labels, count: row };
}

/** Trains the MaskGIT transformer on the codes (class-conditional); returns per-step losses. */
export function trainTransformer(model: MaskGITTransformer, data: { codes: Int32Array; labels: number[]; count: number }, o: LoopOptions & { classDropout: number }): number[] {
  const N = model.length;
  const params = model.namedParameters();
  const opt = optimiser(params, o);
  const rng = seededRandom(o.seed);
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const ids = Array.from({ length: o.batch }, () => Math.floor(rng() * data.count));
    const rows = new Int32Array(o.batch * N);
    ids.forEach((id, b) => rows.set(data.codes.subarray(id * N, (id + 1) * N), b * N));
    const codes = T.tensor(rows, { shape: [o.batch, N], dtype: "int32" });
    const labels = ids.map((id) => data.labels[id]);
    const { value, grads } = T.gradients(() => model.trainingLoss(codes, labels, { seed: o.seed * 1_000_003 + s, classDropout: o.classDropout }).loss, params);
    opt.step(s, grads);
    const loss = value.itemSync();
    T.dispose([value, grads, codes]);
    losses.push(loss);
    if (shouldLog(o, s)) o.onLog!(s + 1, { loss });
  }
  opt.dispose();
  return losses;
}

/** The judge: a GELU MLP 784 -> hidden -> 10 on the real images, trained apart from everything else. */
export class ImageClassifier extends T.Module {
  readonly fc1: T.Linear;
  readonly fc2: T.Linear;
  constructor(hidden: number, seed: number) {
    super();
    const gen = new T.Generator(seed);
    this.fc1 = this.registerModule("fc1", new T.Linear(PIXELS, hidden, { seed: gen }));
    this.fc2 = this.registerModule("fc2", new T.Linear(hidden, 10, { seed: gen }));
  }

  /** images [B, 1, 28, 28] -> logits [B, 10] */
  forward(images: T.Tensor): T.Tensor {
    return this.fc2.forward(T.gelu(this.fc1.forward(T.reshape(images, [images.shape[0], PIXELS]))));
  }

  /** Predicted classes of images [B, 1, 28, 28]. */
  predict(images: T.Tensor): number[] {
    return T.tidy(() => Array.from(T.argmax(this.forward(images), -1).dataSync(), Number));
  }
}

export function trainClassifier(clf: ImageClassifier, set: ImageSet, o: LoopOptions): number[] {
  const params = clf.namedParameters();
  const opt = optimiser(params, o);
  const rng = seededRandom(o.seed);
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const ids = Array.from({ length: o.batch }, () => Math.floor(rng() * set.count));
    const x = imageBatch(
      set,
      ids,
      ids.map(() => rng() < 0.5),
    );
    const y = T.tensor(
      ids.map((i) => set.labels[i]),
      { dtype: "int32" },
    );
    const { value, grads } = T.gradients(() => T.crossEntropy(clf.forward(x), y), params);
    opt.step(s, grads);
    losses.push(value.itemSync());
    T.dispose([value, grads, x, y]);
    if (shouldLog(o, s)) o.onLog!(s + 1, { loss: losses[s] });
  }
  opt.dispose();
  return losses;
}

/** Per-class and mean accuracy of predictions against labels (classes 0-9). */
export function classAccuracy(pred: number[], labels: number[]): { perClass: number[]; mean: number; overall: number; count: number } {
  const right = new Array(10).fill(0);
  const seen = new Array(10).fill(0);
  pred.forEach((p, i) => {
    seen[labels[i]]++;
    if (p === labels[i]) right[labels[i]]++;
  });
  const perClass = right.map((r, c) => (seen[c] ? r / seen[c] : NaN));
  const present = perClass.filter((v) => !Number.isNaN(v));
  return { perClass, mean: present.reduce((a, b) => a + b, 0) / present.length, overall: right.reduce((a, b) => a + b, 0) / pred.length, count: pred.length };
}

/**
 * Token-by-token decoding with the same transformer: N forward passes, the i-th fills position i
 * (raster order) with a sample from the model's softmax over the codes, every later position
 * still the mask token (so each pass costs what a MaskGIT step costs). Returns codes [B, N].
 */
export function tokenByTokenDecode(model: MaskGITTransformer, labels: number[], seed: number): T.Tensor {
  const N = model.length;
  const V = model.codebookSize;
  const B = labels.length;
  const rng = new T.HostRandom(seed);
  const cur = new Int32Array(B * N).fill(model.maskTokenId);
  const cls = model.classTokens(labels, B);
  for (let i = 0; i < N; i++) {
    const logits = T.tidy(() => {
      const ids = T.concat([cls, T.tensor(cur, { shape: [B, N], dtype: "int32" })], 1); // [B, 1 + N]
      return T.logSoftmax(T.select(model.forward(ids), 1, 1 + i), -1).dataSync(); // [B, V]
    });
    for (let b = 0; b < B; b++) {
      let best = -Infinity;
      let arg = 0;
      for (let v = 0; v < V; v++) {
        const score = logits[b * V + v] + rng.gumbel(); // Gumbel-max: a sample from the softmax
        if (score > best) [best, arg] = [score, v];
      }
      cur[b * N + i] = arg;
    }
  }
  cls.dispose();
  return T.tensor(cur, { shape: [B, N], dtype: "int32" });
}

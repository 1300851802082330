/**
 * The bidirectional token Transformer of MaskGIT (Chang et al. 2022, "MaskGIT: Masked
 * Generative Image Transformer"; google-research/maskgit `maskgit_class_cond`), over the codes of
 * an image tokenizer (VQTokenizer):
 *   vocabulary: codes [0, V), the mask token V, class tokens V + 1 + c for c in [0, numClasses]
 *               (c = numClasses is the null class: unconditional), one embedding table
 *   h_0 = embed([class; tokens]) + pos                                       [B, 1 + N, D]
 *   h_{l+1} = pre-norm Block_l(h_l), non-causal self-attention
 *   logits = head(LayerNorm(h_L))                                             [B, 1 + N, V]
 * Training (§3.2): per row draw r ~ U(0, 1), mask ceil(gamma(r) N) positions chosen uniformly
 * (gamma: the mask schedule, cosine by default), and take the cross-entropy of the codes at the
 * masked positions only (@tessera/masked's maskedTokenLoss). Decoding is @tessera/masked's
 * maskgitDecode; `asMaskgitModel()` is the function it calls.
 */
import { maskedTokenLoss, maskgitDecode, maskgitSchedule, MASKGIT_SCHEDULES, type MaskgitDecodeResult, type MaskgitModel, type MaskgitScheduleKind } from "@tessera/masked";
import {
  add,
  cast,
  concat,
  Embedding,
  full,
  Generator,
  HostRandom,
  isTensor,
  LayerNorm,
  Module,
  ModuleList,
  narrow,
  normal,
  tensor,
  tidy,
  where,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "../errors";
import { Block } from "../nn/block";
import { initNormal } from "../nn/init";
import { MLP } from "../nn/mlp";
import { Projection } from "../nn/projection";
import { SelfAttention } from "../nn/attention";

export interface MaskGITTransformerOptions {
  /** Codes V of the tokenizer (the logits' width). */
  codebookSize: number;
  /** Tokens per image N (the tokenizer's h w). */
  length: number;
  /** Classes for conditioning; class numClasses is the null class. Default 0 (unconditional only). */
  numClasses?: number;
  /** Width. Default 64. */
  dModel?: number;
  /** Blocks. Default 4. */
  layers?: number;
  /** Attention heads. Default 4. */
  heads?: number;
  /** MLP width / dModel. Default 4. */
  mlpRatio?: number;
  /** LayerNorm eps. Default 1e-5. */
  eps?: number;
  /** Std of the normal init of embeddings and projections. Default 0.02 (MaskGIT / BERT). */
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export interface MaskGITTrainingOptions {
  /** The mask schedule gamma. Default "cosine" (MaskGIT's choice). */
  schedule?: MaskgitScheduleKind;
  /** Seed or generator of the mask ratios, masked positions and class dropout. */
  seed?: number | Generator;
  /** Probability of replacing a row's class by the null class (to train both modes). Default 0. */
  classDropout?: number;
}

export interface MaskGITTrainingLoss {
  /** Scalar: mean cross-entropy over the masked positions. */
  loss: Tensor;
  /** [B, N] float32, 1 = masked. */
  mask: Tensor;
  /** Masked positions per row: ceil(gamma(r) N), at least 1. */
  maskedPerRow: number[];
}

export interface MaskGITGenerateOptions {
  /** A class (or one per row) to condition on; omitted: unconditional (the null class). */
  classLabel?: number | readonly number[];
  /** Rows; default 1, or classLabel's length. */
  batch?: number;
  /** Forward passes. Default 8. */
  steps?: number;
  schedule?: MaskgitScheduleKind | ((r: number) => number);
  temperature?: number;
  seed?: number | Generator;
  returnHistory?: boolean;
}

export class MaskGITTransformer extends Module {
  readonly embed: Embedding;
  readonly pos: Tensor;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly head: Projection;
  readonly codebookSize: number;
  readonly length: number;
  readonly numClasses: number;
  readonly dModel: number;
  /** Id of the mask token: codebookSize. */
  readonly maskTokenId: number;
  /** Class c's token is classTokenOffset + c: codebookSize + 1. */
  readonly classTokenOffset: number;
  /** The class index of the null (unconditional) class: numClasses. */
  readonly nullClass: number;
  readonly vocabSize: number;
  constructor(opts: MaskGITTransformerOptions) {
    super();
    const op = "MaskGITTransformer";
    if (!opts || typeof opts !== "object") fail(op, "options { codebookSize, length } are required");
    const int = (name: string, v: unknown, min: number): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(op, `${name} must be an integer of at least ${min}, got ${String(v)}`);
      return v;
    };
    const V = int("codebookSize", opts.codebookSize, 1);
    const N = int("length", opts.length, 1);
    const classes = int("numClasses", opts.numClasses ?? 0, 0);
    const d = int("dModel", opts.dModel ?? 64, 1);
    const layers = int("layers", opts.layers ?? 4, 1);
    const heads = int("heads", opts.heads ?? 4, 1);
    if (d % heads !== 0) fail(op, `dModel ${d} must be a multiple of heads ${heads}`);
    const hidden = Math.round(d * (opts.mlpRatio ?? 4));
    if (!(hidden >= 1)) fail(op, `mlpRatio must be positive, got ${String(opts.mlpRatio)}`);
    const std = opts.initStd ?? 0.02;
    const eps = opts.eps ?? 1e-5;
    const backend = opts.backend;
    const gen = typeof opts.seed === "number" || opts.seed === undefined ? new Generator(opts.seed ?? 0) : opts.seed;

    this.codebookSize = V;
    this.length = N;
    this.numClasses = classes;
    this.dModel = d;
    this.maskTokenId = V;
    this.classTokenOffset = V + 1;
    this.nullClass = classes;
    this.vocabSize = V + 2 + classes; // codes, mask, classes, null class
    this.embed = this.registerModule("embed", new Embedding(this.vocabSize, d, { backend }));
    initNormal(this.embed.weight, std, gen);
    this.pos = this.registerParameter("pos", normal([1, 1 + N, d], 0, std, { seed: gen, backend }));
    const p = { initStd: std, seed: gen, backend };
    const blocks = Array.from(
      { length: layers },
      () =>
        new Block({
          norm1: new LayerNorm(d, { eps, backend }),
          mixer: new SelfAttention({ dModel: d, nHeads: heads, causal: false, qkvBias: true, outBias: true, ...p }),
          norm2: new LayerNorm(d, { eps, backend }),
          mlp: new MLP({ dModel: d, hidden, activation: "gelu", ...p }),
        }),
    );
    this.blocks = this.registerModule("blocks", new ModuleList(blocks));
    this.norm = this.registerModule("norm", new LayerNorm(d, { eps, backend }));
    this.head = this.registerModule("head", new Projection(d, V, p));
  }

  /**
   * ids [B, 1 + N] (a class token, then N codes or mask tokens) -> logits [B, 1 + N, V]; or
   * ids [B, N] (no class token: the null class is prepended) -> logits [B, N, V].
   */
  forward(ids: Tensor): Tensor {
    const op = "MaskGITTransformer.forward";
    const N = this.length;
    if (!isTensor(ids)) fail(op, `ids must be an int32 tensor [B, ${N}] or [B, ${N + 1}]`);
    if (ids.rank !== 2 || (ids.shape[1] !== N && ids.shape[1] !== N + 1)) fail(op, `ids [${ids.shape}] must be [B, ${N}] or [B, 1 + ${N}] (class token first)`);
    if (ids.dtype !== "int32") fail(op, `ids must be int32, got ${ids.dtype} [${ids.shape}]`);
    return tidy(() => {
      const B = ids.shape[0];
      const withClass = ids.shape[1] === N + 1;
      const input = withClass ? ids : concat([full([B, 1], this.classTokenOffset + this.nullClass, { dtype: "int32", backend: ids.backend }), ids], 1);
      let h = add(this.embed.forward(input), this.pos); // [B, 1 + N, D]
      for (const b of this.blocks) h = b.forward(h).y;
      const logits = this.head.forward(this.norm.forward(h)); // [B, 1 + N, V]
      return withClass ? logits : narrow(logits, 1, 1, N);
    });
  }

  /** The class tokens [B, 1] of labels (null = the null class for every row). */
  classTokens(labels: readonly number[] | null, batch: number, backend?: string): Tensor {
    const op = "MaskGITTransformer.classTokens";
    if (labels && labels.length !== batch) fail(op, `labels has ${labels.length} entries for a batch of ${batch}`);
    const ids = Int32Array.from({ length: batch }, (_, i) => {
      const c = labels ? labels[i] : this.nullClass;
      if (!Number.isInteger(c) || c < 0 || c > this.nullClass) fail(op, `labels[${i}] = ${c} must be a class in [0, ${this.numClasses}] (${this.numClasses} = null class)`);
      return this.classTokenOffset + c;
    });
    return tensor(ids, { shape: [batch, 1], dtype: "int32", backend });
  }

  /**
   * MaskGIT's training masks (§3.2): per row r ~ U(0, 1) and ceil(gamma(r) N) positions (at
   * least 1) drawn uniformly without replacement. mask is [B * N] row-major, 1 = masked.
   */
  trainingMask(batch: number, opts: Pick<MaskGITTrainingOptions, "schedule" | "seed"> = {}): { mask: Float32Array; maskedPerRow: number[] } {
    const op = "MaskGITTransformer.trainingMask";
    const N = this.length;
    if (!Number.isInteger(batch) || batch < 1) fail(op, `batch must be a positive integer, got ${String(batch)}`);
    const sched = opts.schedule ?? "cosine";
    if (!MASKGIT_SCHEDULES.includes(sched)) fail(op, `schedule must be one of ${MASKGIT_SCHEDULES.join(", ")}, got ${String(sched)}`);
    const gamma = maskgitSchedule(sched, { totalTokens: Math.max(N, 2) });
    const rng = new HostRandom(opts.seed ?? 0);
    const mask = new Float32Array(batch * N);
    const maskedPerRow: number[] = [];
    const order = Int32Array.from({ length: N }, (_, i) => i);
    for (let b = 0; b < batch; b++) {
      const n = Math.min(N, Math.max(1, Math.ceil(gamma(rng.uniform()) * N)));
      rng.shuffle(order);
      for (let i = 0; i < n; i++) mask[b * N + order[i]] = 1;
      maskedPerRow.push(n);
    }
    return { mask, maskedPerRow };
  }

  /**
   * MaskGIT's training objective on codes [B, N] (int32, from the tokenizer) with one label per
   * row (or null: unconditional): per row r ~ U(0, 1), ceil(gamma(r) N) positions (at least 1)
   * drawn uniformly become the mask token, and the loss is the cross-entropy of the original
   * codes at those positions. Differentiate `.loss`.
   */
  trainingLoss(codes: Tensor, labels: readonly number[] | null, opts: MaskGITTrainingOptions = {}): MaskGITTrainingLoss {
    const op = "MaskGITTransformer.trainingLoss";
    const N = this.length;
    if (!isTensor(codes)) fail(op, `codes must be an int32 tensor [B, ${N}]`);
    if (codes.rank !== 2 || codes.shape[1] !== N) fail(op, `codes [${codes.shape}] must be [B, ${N}]`);
    if (codes.dtype !== "int32") fail(op, `codes must be int32, got ${codes.dtype} [${codes.shape}]`);
    const pDrop = opts.classDropout ?? 0;
    if (!(pDrop >= 0 && pDrop <= 1)) fail(op, `classDropout must lie in [0, 1], got ${String(opts.classDropout)}`);
    const B = codes.shape[0];
    const gen = opts.seed instanceof Generator ? opts.seed : new Generator(opts.seed ?? 0);
    const { mask, maskedPerRow } = this.trainingMask(B, { schedule: opts.schedule, seed: gen });
    const rng = new HostRandom(gen);
    const rowLabels = labels ? [...labels] : null;
    if (rowLabels && pDrop > 0) for (let b = 0; b < B; b++) if (rng.uniform() < pDrop) rowLabels[b] = this.nullClass;
    const classCol = this.classTokens(rowLabels, B, codes.backend);
    const m = tensor(mask, { shape: [B, N], backend: codes.backend });
    const loss = tidy(() => {
      const masked = cast(where(cast(m, "bool"), this.maskTokenId, codes), "int32"); // [B, N]
      const logits = narrow(this.forward(concat([classCol, masked], 1)), 1, 1, N); // [B, 1 + N] -> [B, N, V]
      return maskedTokenLoss(logits, codes, m);
    });
    classCol.dispose();
    return { loss, mask: m, maskedPerRow };
  }

  /** The model function maskgitDecode calls: ids [B, T] -> logits [B, T, V]. */
  asMaskgitModel(): MaskgitModel {
    return (ids: Tensor) => this.forward(ids);
  }

  /** Iterative parallel decoding (MaskGIT §3.2) of `batch` images' codes: tokens [B, N]. */
  generate(opts: MaskGITGenerateOptions = {}): Promise<MaskgitDecodeResult> {
    const label = opts.classLabel;
    const labels = label === undefined ? [] : typeof label === "number" ? [label] : label;
    labels.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c > this.nullClass)
        fail("MaskGITTransformer.generate", `classLabel${typeof label === "number" ? "" : `[${i}]`} = ${c} must be a class in [0, ${this.numClasses}]`);
    });
    return maskgitDecode(this.asMaskgitModel(), {
      length: this.length,
      maskTokenId: this.maskTokenId,
      steps: opts.steps,
      schedule: opts.schedule,
      temperature: opts.temperature,
      seed: opts.seed,
      batch: opts.batch,
      classLabel: label,
      classTokenOffset: this.classTokenOffset,
      vocabSize: this.codebookSize,
      returnHistory: opts.returnHistory,
      backend: this.pos.backend,
    });
  }
}

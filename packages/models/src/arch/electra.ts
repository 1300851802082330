/**
 * ELECTRA (Clark et al. 2020, "ELECTRA: Pre-training Text Encoders as Discriminators Rather Than
 * Generators") on the BERT encoder, as Hugging Face's ElectraModel / ElectraForPreTraining /
 * ElectraForMaskedLM:
 *   e   = LayerNorm(word[ids] + type[token_type_ids] + pos[0..T))            [B, T, E]
 *   h_0 = embeddings_project(e) when E != D (else e)                          [B, T, D]
 *   h_L = post-norm BERT blocks                                              [B, T, D]
 *   discriminator: logit = w2 . act(W1 h_L + b1) + b2                         [B, T]
 *   generator:     logits = LayerNorm(gelu(W h_L + b)) word^T + bias           [B, T, V]
 * Pre-training (§3.2) pairs a small generator (width a fraction of the discriminator's, §3.2
 * "Smaller Generators") with the discriminator; they share the token, position and type
 * embeddings (§3.2 "Weight Sharing"), so one `ElectraEmbeddings` module serves both and each
 * projects E to its own width. The objective is @tessera/masked's replacedTokenLoss.
 */
import { bertMask, replacedTokenLoss, type BertMaskOptions, type ReplacedTokenLoss } from "@tessera/masked";
import {
  add,
  arange,
  cast,
  div,
  Embedding,
  eq,
  type Generator,
  gelu,
  LayerNorm,
  linear,
  logSigmoid,
  mean,
  Module,
  ModuleList,
  mul,
  neg,
  squeeze,
  sub,
  sum,
  tidy,
  zeros,
  zerosLike,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "../errors";
import { checkRequired } from "./options";
import { activate, type Activation } from "../nn/activation";
import type { Block } from "../nn/block";
import { initGenerator, initNormal } from "../nn/init";
import { Projection } from "../nn/projection";

export interface ElectraEmbeddingsOptions {
  vocabSize: number;
  /** E: the embedding width (ELECTRA-Small: 128; may differ from the encoders' widths). */
  embeddingSize: number;
  maxPositions: number;
  typeVocabSize: number;
  eps: number;
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

/** Token + type + position embeddings and their LayerNorm, at width E (shared by generator and discriminator). */
export class ElectraEmbeddings extends Module {
  readonly word: Embedding;
  readonly pos: Embedding;
  readonly types: Embedding;
  readonly norm: LayerNorm;
  constructor(readonly opts: ElectraEmbeddingsOptions) {
    super();
    const { embeddingSize: e, backend } = opts;
    const gen = initGenerator(opts.seed);
    this.word = this.registerModule("word", new Embedding(opts.vocabSize, e, { backend }));
    this.pos = this.registerModule("pos", new Embedding(opts.maxPositions, e, { backend }));
    this.types = this.registerModule("types", new Embedding(opts.typeVocabSize, e, { backend }));
    for (const m of [this.word, this.pos, this.types]) initNormal(m.weight, opts.initStd ?? 0.02, gen);
    this.norm = this.registerModule("norm", new LayerNorm(e, { eps: opts.eps, backend }));
  }

  /** ids [B, T] -> [B, T, E] */
  forward(ids: Tensor, tokenTypeIds?: Tensor): Tensor {
    const op = "ElectraEmbeddings.forward";
    if (ids.rank !== 2) fail(op, `ids must be [B, T], got [${ids.shape}]`);
    const T = ids.shape[1];
    if (T > this.opts.maxPositions) fail(op, `ids [${ids.shape}]: ${T} tokens exceed max_position_embeddings ${this.opts.maxPositions}`);
    if (tokenTypeIds && tokenTypeIds.shape.join() !== ids.shape.join()) fail(op, `tokenTypeIds [${tokenTypeIds.shape}] must have the shape of ids [${ids.shape}]`);
    const positions = arange(0, T, 1, { dtype: "int32", backend: ids.backend });
    const types = tokenTypeIds ?? zerosLike(ids);
    return this.norm.forward(add(add(this.word.forward(ids), this.types.forward(types)), this.pos.forward(positions)));
  }
}

export interface ElectraEncoderOptions {
  /** The embeddings (pass the same instance to a generator and a discriminator to share them). */
  embeddings: ElectraEmbeddings;
  /** D: this encoder's width (the projection E -> D exists when they differ). */
  dModel: number;
  /** Post-norm BERT blocks of width dModel. */
  blocks: Block[];
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export interface ElectraForwardOptions {
  tokenTypeIds?: Tensor;
  /** [B, T]: 1 for tokens, 0 for padding (padded keys are hidden, as Hugging Face's). */
  attentionMask?: Tensor;
  hiddenStates?: boolean;
}

/** ElectraModel: embeddings, the E -> D projection where widths differ, post-norm blocks. */
export class ElectraEncoder extends Module {
  readonly embeddings: ElectraEmbeddings;
  readonly project: Projection | null;
  readonly blocks: ModuleList<Block>;
  constructor(readonly opts: ElectraEncoderOptions) {
    super();
    const e = opts.embeddings.opts.embeddingSize;
    const gen = initGenerator(opts.seed);
    this.embeddings = this.registerModule("embeddings", opts.embeddings);
    this.project = e === opts.dModel ? null : this.registerModule("project", new Projection(e, opts.dModel, { initStd: opts.initStd ?? 0.02, seed: gen, backend: opts.backend }));
    this.blocks = this.registerModule("blocks", new ModuleList(opts.blocks));
  }

  /** ids [B, T] -> [B, T, D] (hiddenStates: the block input, then each block's output). */
  forward(ids: Tensor, o: ElectraForwardOptions = {}): { hidden: Tensor; hiddenStates?: Tensor[] } {
    if (o.attentionMask && o.attentionMask.shape.join() !== ids.shape.join())
      fail("ElectraEncoder.forward", `attentionMask [${o.attentionMask.shape}] must have the shape of ids [${ids.shape}]`);
    const e = this.embeddings.forward(ids, o.tokenTypeIds); // [B, T, E]
    let h = this.project ? this.project.forward(e) : e; // [B, T, D]
    const hidden = o.hiddenStates ? [h] : [];
    const keyPadding = o.attentionMask ? eq(o.attentionMask, 0) : null; // [B, T] true = padding
    for (const b of this.blocks) {
      h = b.forward(h, undefined, { keyPadding }).y;
      if (o.hiddenStates) hidden.push(h);
    }
    return o.hiddenStates ? { hidden: h, hiddenStates: hidden } : { hidden: h };
  }
}

export interface ElectraDiscriminatorOptions extends ElectraEncoderOptions {
  /** Activation between the two dense layers of the head (config hidden_act). */
  headActivation: Activation;
}

/** ElectraForPreTraining: the encoder and a per-token replaced/original head -> logits [B, T]. */
export class ElectraDiscriminator extends Module {
  readonly encoder: ElectraEncoder;
  readonly headDense: Projection;
  readonly headOut: Projection;
  constructor(readonly opts: ElectraDiscriminatorOptions) {
    super();
    const { dModel: d, backend } = opts;
    const gen = initGenerator(opts.seed);
    const std = opts.initStd ?? 0.02;
    this.encoder = this.registerModule("encoder", new ElectraEncoder({ ...opts, seed: gen }));
    this.headDense = this.registerModule("headDense", new Projection(d, d, { initStd: std, seed: gen, backend }));
    this.headOut = this.registerModule("headOut", new Projection(d, 1, { initStd: std, seed: gen, backend }));
  }

  /** ids [B, T] -> logits [B, T] (> 0: replaced). */
  forward(ids: Tensor, o: ElectraForwardOptions = {}): { logits: Tensor; hiddenStates?: Tensor[] } {
    if (ids.rank !== 2) fail("ElectraDiscriminator.forward", `ids must be [B, T], got [${ids.shape}]`);
    const r = this.encoder.forward(ids, o);
    const logits = squeeze(this.headOut.forward(activate(this.headDense.forward(r.hidden), this.opts.headActivation)), -1);
    return r.hiddenStates ? { logits, hiddenStates: r.hiddenStates } : { logits };
  }
}

/** ElectraForMaskedLM (the generator): the encoder and an MLM head tied to the word embeddings -> [B, T, V]. */
export class ElectraGenerator extends Module {
  readonly encoder: ElectraEncoder;
  readonly headDense: Projection;
  readonly headNorm: LayerNorm;
  readonly headBias: Tensor;
  constructor(readonly opts: ElectraEncoderOptions & { eps: number }) {
    super();
    const { dModel: d, backend } = opts;
    const { embeddingSize: e, vocabSize: V } = opts.embeddings.opts;
    const gen = initGenerator(opts.seed);
    this.encoder = this.registerModule("encoder", new ElectraEncoder({ ...opts, seed: gen }));
    this.headDense = this.registerModule("headDense", new Projection(d, e, { initStd: opts.initStd ?? 0.02, seed: gen, backend }));
    this.headNorm = this.registerModule("headNorm", new LayerNorm(e, { eps: opts.eps, backend }));
    this.headBias = this.registerParameter("headBias", zeros([V], { backend }));
  }

  /** ids [B, T] -> logits [B, T, V] */
  forward(ids: Tensor, o: ElectraForwardOptions = {}): { logits: Tensor; hiddenStates?: Tensor[] } {
    if (ids.rank !== 2) fail("ElectraGenerator.forward", `ids must be [B, T], got [${ids.shape}]`);
    const r = this.encoder.forward(ids, o);
    // ElectraGeneratorPredictions: dense, gelu (exact, whatever hidden_act says), LayerNorm.
    const t = this.headNorm.forward(gelu(this.headDense.forward(r.hidden)));
    const logits = add(linear(t, this.encoder.embeddings.word.weight), this.headBias);
    return r.hiddenStates ? { logits, hiddenStates: r.hiddenStates } : { logits };
  }
}

/**
 * ElectraForPreTraining's loss: binary cross-entropy with logits of logits [B, T] against
 * isReplaced [B, T] (1 = replaced), mean over the positions where attentionMask is 1 (all without
 * one), as torch's BCEWithLogitsLoss on the active positions.
 */
export function replacedTokenDetectionLoss(logits: Tensor, isReplaced: Tensor, attentionMask?: Tensor): Tensor {
  const op = "replacedTokenDetectionLoss";
  if (logits.rank !== 2) fail(op, `logits must be [B, T], got [${logits.shape}]`);
  if (isReplaced.shape.join() !== logits.shape.join()) fail(op, `isReplaced [${isReplaced.shape}] must have the shape of logits [${logits.shape}]`);
  if (attentionMask && attentionMask.shape.join() !== logits.shape.join()) fail(op, `attentionMask [${attentionMask.shape}] must have the shape of logits [${logits.shape}]`);
  return tidy(() => {
    const y = cast(isReplaced, logits.dtype);
    // -(y log sigmoid(x) + (1 - y) log sigmoid(-x)), stable for large |x|.
    const bce = neg(add(mul(y, logSigmoid(logits)), mul(sub(1, y), logSigmoid(neg(logits))))); // [B, T]
    if (!attentionMask) return mean(bce);
    const w = cast(attentionMask, logits.dtype);
    return div(sum(mul(bce, w)), sum(w));
  });
}

export interface ElectraStepOptions extends Omit<BertMaskOptions, "attentionMask" | "backend" | "vocabSize"> {
  /** [B, T] 1 = token, 0 = padding: never masked, hidden from attention, out of the detection loss. */
  attentionMask?: Tensor;
  tokenTypeIds?: Tensor;
  /** Weight of the detection loss (ELECTRA: 50). */
  lambda?: number;
  /** Generator sampling temperature (default 1). */
  temperature?: number;
}

/**
 * The pre-training pair: a generator and a discriminator built on one ElectraEmbeddings (checked
 * at construction), so the pair's parameters hold the embeddings once.
 */
export class Electra extends Module {
  readonly generator: ElectraGenerator;
  readonly discriminator: ElectraDiscriminator;
  constructor(parts: { generator: ElectraGenerator; discriminator: ElectraDiscriminator }) {
    super();
    checkRequired("Electra", parts, { present: ["generator", "discriminator"] });
    const [g, d] = [parts.generator, parts.discriminator];
    if (g.encoder.embeddings !== d.encoder.embeddings) {
      fail("Electra", "generator and discriminator must be built on the same ElectraEmbeddings instance (ELECTRA shares token, position and type embeddings)");
    }
    this.discriminator = this.registerModule("discriminator", d);
    this.generator = this.registerModule("generator", g);
  }

  /**
   * One ELECTRA objective on clean ids [B, T]: bertMask selects and masks tokens, the generator
   * predicts them (MLM loss), replacements are sampled from its softmax without gradient, and the
   * discriminator labels every non-padding token replaced or original; loss = mlm + lambda * bce
   * (@tessera/masked replacedTokenLoss). The seed drives the masking and the sampling.
   */
  loss(ids: Tensor, o: ElectraStepOptions): ReplacedTokenLoss & { maskedIds: Tensor; labels: Tensor } {
    const op = "Electra.loss";
    if (ids.rank !== 2) fail(op, `ids must be [B, T], got [${ids.shape}]`);
    if (o.attentionMask && o.attentionMask.shape.join() !== ids.shape.join()) fail(op, `attentionMask [${o.attentionMask.shape}] must have the shape of ids [${ids.shape}]`);
    const V = this.generator.encoder.embeddings.opts.vocabSize;
    const { attentionMask, tokenTypeIds, lambda, temperature, ...maskOpts } = o;
    const seed = initGenerator(o.seed);
    const masked = bertMask(ids, { ...maskOpts, vocabSize: V, attentionMask, seed, backend: ids.backend });
    const fwd = { attentionMask, tokenTypeIds };
    const generatorLogits = this.generator.forward(masked.inputIds, fwd).logits; // [B, T, V]
    const r = replacedTokenLoss({
      generatorLogits,
      labels: masked.labels,
      inputIds: masked.inputIds,
      discriminator: (corrupted) => this.discriminator.forward(corrupted, fwd).logits,
      attentionMask,
      lambda,
      temperature,
      seed,
    });
    return { ...r, maskedIds: masked.inputIds, labels: masked.labels };
  }
}

/**
 * BERT (Devlin et al. 2019) with its masked-LM head, as Hugging Face's BertForMaskedLM:
 *   h_0 = LayerNorm(word[ids] + pos[0..T) + type[token_type_ids])      [B, T, D]
 *   h_{l+1} = post-norm block_l(h_l), bidirectional attention           (nn/block.ts)
 *   logits = LayerNorm(act(h_L W_t + b_t)) word^T + bias                [B, T, V]
 * `attentionMask` [B, T] (1 = token, 0 = padding) hides padded keys, as Hugging Face's.
 */
import { add, arange, Embedding, eq, type Generator, LayerNorm, linear, Module, ModuleList, zeros, zerosLike, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import { activate, type Activation } from "../nn/activation";
import type { Block } from "../nn/block";
import { initGenerator, initNormal } from "../nn/init";
import { Projection } from "../nn/projection";

export interface BertOptions {
  vocabSize: number;
  dModel: number;
  maxPositions: number;
  typeVocabSize: number;
  blocks: Block[];
  eps: number;
  headActivation: Activation;
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export interface BertForwardOptions {
  tokenTypeIds?: Tensor;
  /** [B, T]: 1 for tokens, 0 for padding. */
  attentionMask?: Tensor;
  hiddenStates?: boolean;
}

export class BertForMaskedLM extends Module {
  readonly embed: Embedding;
  readonly pos: Embedding;
  readonly types: Embedding;
  readonly embedNorm: LayerNorm;
  readonly blocks: ModuleList<Block>;
  readonly headDense: Projection;
  readonly headNorm: LayerNorm;
  readonly headBias: Tensor;
  constructor(readonly opts: BertOptions) {
    super();
    const { vocabSize: V, dModel: d, backend } = opts;
    const gen = initGenerator(opts.seed);
    const std = opts.initStd ?? 0.02;
    this.embed = this.registerModule("embed", new Embedding(V, d, { backend }));
    this.pos = this.registerModule("pos", new Embedding(opts.maxPositions, d, { backend }));
    this.types = this.registerModule("types", new Embedding(opts.typeVocabSize, d, { backend }));
    for (const e of [this.embed, this.pos, this.types]) initNormal(e.weight, std, gen);
    this.embedNorm = this.registerModule("embedNorm", new LayerNorm(d, { eps: opts.eps, backend }));
    this.blocks = this.registerModule("blocks", new ModuleList(opts.blocks));
    this.headDense = this.registerModule("headDense", new Projection(d, d, { initStd: std, seed: gen, backend }));
    this.headNorm = this.registerModule("headNorm", new LayerNorm(d, { eps: opts.eps, backend }));
    this.headBias = this.registerParameter("headBias", zeros([V], { backend }));
  }

  /** ids [B, T] -> logits [B, T, V] */
  forward(ids: Tensor, o: BertForwardOptions = {}): { logits: Tensor; hiddenStates?: Tensor[] } {
    if (ids.rank !== 2) fail("BertForMaskedLM.forward", `ids must be [B, T], got [${ids.shape}]`);
    const T = ids.shape[1];
    if (T > this.opts.maxPositions) fail("BertForMaskedLM.forward", `${T} tokens exceed max_position_embeddings ${this.opts.maxPositions}`);
    const positions = arange(0, T, 1, { dtype: "int32", backend: ids.backend });
    const types = o.tokenTypeIds ?? zerosLike(ids);
    let h = this.embedNorm.forward(add(add(this.embed.forward(ids), this.pos.forward(positions)), this.types.forward(types)));
    const hidden = o.hiddenStates ? [h] : [];
    const keyPadding = o.attentionMask ? eq(o.attentionMask, 0) : null; // [B, T] true = padding
    for (const b of this.blocks) {
      h = b.forward(h, undefined, { keyPadding }).y;
      if (o.hiddenStates) hidden.push(h);
    }
    const t = this.headNorm.forward(activate(this.headDense.forward(h), this.opts.headActivation));
    const logits = add(linear(t, this.embed.weight), this.headBias);
    return o.hiddenStates ? { logits, hiddenStates: hidden } : { logits };
  }
}

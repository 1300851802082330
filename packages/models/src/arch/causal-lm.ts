/**
 * A decoder-only language model (nanoGPT's shape, any token mixer):
 *   h_0 = wte[ids] (+ wpe[positions])              [B, T, D]
 *   h_{l+1} = block_l(h_l)                         MetaFormer blocks (nn/block.ts)
 *   logits = norm(h_L) W_head^T                    [B, T, V]; W_head = wte when tied
 * GPT-2, Llama (and Mistral/Qwen2), Mamba, Mamba-2 and hybrids are this class with different
 * blocks. The state (one MixerState per block plus the position) makes prefill + decoding of
 * one token at a time equal to a single forward pass: O(1) per token for recurrent mixers, a KV
 * cache for attention.
 */
import { add, arange, disposeState, Embedding, type Generator, linear, Module, ModuleList, narrow, type MixerState, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import { generate, type GenerateOptions, type GenerateResult } from "../generate/generate";
import type { AttentionContext } from "../nn/attention";
import type { Block, Layer } from "../nn/block";
import { initGenerator, initNormal } from "../nn/init";
import { Projection } from "../nn/projection";

export interface CausalLMOptions {
  vocabSize: number;
  dModel: number;
  blocks: Block[];
  finalNorm: Layer;
  /** Learned absolute positions (GPT-2's wpe) for this many positions; null (default) for none. */
  maxPositions?: number | null;
  /** The head reuses the token embedding (default true). */
  tieEmbeddings?: boolean;
  /**
   * What `hiddenStates` returns, as Hugging Face's output_hidden_states (transformers 5.17):
   *  - 'embeddings' (GPT-2, Llama): [embeddings, block 0 .. L-2 outputs, norm(block L-1 output)]
   *  - 'blocks' (Mamba, Mamba-2): [block 0 .. L-1 outputs, norm(block L-1 output)]
   */
  hiddenStates?: "embeddings" | "blocks";
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export interface LMState {
  layers: MixerState[];
  /** Tokens consumed so far (the next token's position). */
  pos: number;
}

export interface CausalLMForwardOptions {
  state?: LMState;
  /** Collect the hidden states (see CausalLMOptions.hiddenStates). */
  hiddenStates?: boolean;
  /** 'all' positions (default) or only the 'last' (decoding needs no more). */
  logits?: "all" | "last";
}

export interface CausalLMOutput {
  logits: Tensor;
  state: LMState;
  hiddenStates?: Tensor[];
}

export class CausalLM extends Module {
  readonly embed: Embedding;
  readonly pos: Embedding | null;
  readonly blocks: ModuleList<Block>;
  readonly norm: Layer;
  readonly head: Projection | null;
  readonly vocabSize: number;
  readonly dModel: number;
  readonly maxPositions: number | null;
  readonly hiddenStateStyle: "embeddings" | "blocks";

  constructor(opts: CausalLMOptions) {
    super();
    const { vocabSize, dModel } = opts;
    this.vocabSize = vocabSize;
    this.dModel = dModel;
    this.maxPositions = opts.maxPositions ?? null;
    this.hiddenStateStyle = opts.hiddenStates ?? "embeddings";
    const gen = initGenerator(opts.seed);
    const std = opts.initStd ?? 0.02;
    this.embed = this.registerModule("embed", new Embedding(vocabSize, dModel, { backend: opts.backend }));
    initNormal(this.embed.weight, std, gen);
    this.pos = null;
    if (this.maxPositions) {
      this.pos = this.registerModule("pos", new Embedding(this.maxPositions, dModel, { backend: opts.backend }));
      initNormal(this.pos.weight, std, gen);
    }
    this.blocks = this.registerModule("blocks", new ModuleList(opts.blocks));
    this.norm = this.registerModule("norm", opts.finalNorm);
    this.head =
      opts.tieEmbeddings === false ? this.registerModule("head", new Projection(dModel, vocabSize, { bias: false, initStd: std, seed: gen, backend: opts.backend })) : null;
  }

  /** The weight of the output layer [V, D] (the embedding when tied). */
  get headWeight(): Tensor {
    return this.head ? this.head.weight : this.embed.weight;
  }

  /** Autoregressive generation from a prompt [B][T] (token ids, or an int tensor [B, T]): `generate(this, prompt, opts)`. */
  generate(prompt: readonly (readonly number[])[] | Tensor, opts: GenerateOptions): Promise<GenerateResult> {
    return generate(this, prompt, opts);
  }

  initState(batch: number): LMState {
    const layers = [...this.blocks].map((b) => b.mixer.initState(batch));
    return { layers, pos: 0 };
  }

  /** Frees the tensors of a state. */
  disposeState(state: LMState): void {
    for (const s of state.layers) disposeState(s);
  }

  /** ids [B, T] (int) -> logits [B, T, V] (or [B, 1, V] with logits 'last'). */
  forward(ids: Tensor, opts: CausalLMForwardOptions = {}, ctx?: AttentionContext): CausalLMOutput {
    if (ids.rank !== 2 || ids.dtype === "float32" || ids.dtype === "float16" || ids.dtype === "bfloat16") {
      fail("CausalLM.forward", `ids must be an integer tensor [B, T], got ${ids.dtype} [${ids.shape}]`);
    }
    const [, T] = ids.shape;
    const start = opts.state?.pos ?? 0;
    let h = this.embed.forward(ids); // [B, T, D]
    if (this.pos) {
      if (start + T > this.maxPositions!) fail("CausalLM.forward", `positions ${start}..${start + T - 1} exceed max_position_embeddings ${this.maxPositions}`);
      h = add(h, this.pos.forward(arange(start, start + T, 1, { dtype: "int32", backend: ids.backend })));
    }
    const hidden: Tensor[] = [];
    const collect = opts.hiddenStates === true;
    if (collect && this.hiddenStateStyle === "embeddings") hidden.push(h);
    const layers: MixerState[] = [];
    const L = this.blocks.length;
    for (let l = 0; l < L; l++) {
      const r = this.blocks.at(l).forward(h, opts.state?.layers[l], ctx);
      h = r.y;
      layers.push(r.state);
      if (collect && (this.hiddenStateStyle === "blocks" || l < L - 1)) hidden.push(h);
    }
    if (opts.logits === "last") h = narrow(h, 1, T - 1, 1);
    const normed = this.norm.forward(h);
    if (collect) hidden.push(normed);
    const logits = linear(normed, this.headWeight); // [B, T, V]
    return { logits, state: { layers, pos: start + T }, ...(collect ? { hiddenStates: hidden } : {}) };
  }
}

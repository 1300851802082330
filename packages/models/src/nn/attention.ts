/**
 * Multi-head self-attention as a TokenMixer (DESIGN.md, "Composition: the token mixer"):
 *   q, k, v = x Wq, x Wk, x Wv   split into heads   [B, T, D] -> [B, H, T, Dh]
 *   RoPE on q and k at absolute positions (Su et al. 2021), when configured
 *   o = softmax(q k^T / sqrt(Dh) + mask) v   (or sigmoid attention, Ramapuram et al. 2025)
 *   y = concat_heads(o) Wo
 * Grouped-query attention (Ainslie et al. 2023) when nKvHeads < nHeads; causal or bidirectional;
 * Mistral's sliding window. The state is the key/value cache plus the position counter, so
 * prefill in pieces and token-by-token decoding equal one forward pass. The cache grows by
 * `append` (@tessera/tensor): a buffer with spare capacity that a step extending the newest state
 * writes in place (O(new tokens)), while a branch from an older state copies; a state's keys and
 * values never change once returned.
 */
import { scaledDotProductAttention, sigmoidAttention } from "@tessera/attention";
import {
  append,
  applyRope,
  contiguous,
  Module,
  narrow,
  permute,
  reshape,
  ropeTables,
  type Generator,
  type MixerState,
  type RopeOptions,
  type Tensor,
  type TokenMixer,
} from "@tessera/tensor";
import { fail } from "../errors";
import { Projection, type ProjectionOptions } from "./projection";
import { initGenerator } from "./init";

export interface SelfAttentionOptions {
  dModel: number;
  nHeads: number;
  /** Key/value heads (grouped-query attention); default nHeads. */
  nKvHeads?: number;
  /** Default dModel / nHeads. */
  headDim?: number;
  /** Default true (decoders); false for encoders (BERT, ViT). */
  causal?: boolean;
  /** Rotary embeddings on q and k (Llama: pairing 'half'); null for none (default). */
  rope?: RopeOptions | null;
  /** Sliding window (Mistral): each query sees itself and the window - 1 keys before it. */
  window?: number | null;
  /** One [D, 3 D] projection for q, k, v (GPT-2's c_attn) instead of three. */
  fused?: boolean;
  qkvBias?: boolean;
  /** Bias on the key projection; default qkvBias (BEiT: q and v have one, k has none). Unfused only. */
  keyBias?: boolean;
  outBias?: boolean;
  /** Logit scale; default 1/sqrt(headDim). */
  scale?: number;
  /** 'softmax' (default) or 'sigmoid' (no normalization over keys). */
  kind?: "softmax" | "sigmoid";
  /** Sigmoid attention's logit offset b; default -log(1024) (fixed, so decoding matches prefill). */
  sigmoidBias?: number;
  layout?: ProjectionOptions["layout"];
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

/** The cache: keys and values seen so far ([B, Hkv, t, Dh]) and the next position. */
export interface AttentionState extends MixerState {
  pos: number;
}

export interface AttentionContext {
  /** [B, Tk] bool, true = padding: those keys are ignored (BERT's attention_mask == 0). */
  keyPadding?: Tensor | null;
  /** Additive logit bias broadcastable to [B, H, Tq, Tk] (BEiT's relative position bias). */
  bias?: Tensor | null;
}

export class SelfAttention extends Module implements TokenMixer<AttentionState> {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly qkv: Projection | null = null;
  readonly q: Projection | null = null;
  readonly k: Projection | null = null;
  readonly v: Projection | null = null;
  readonly o: Projection;
  constructor(readonly opts: SelfAttentionOptions) {
    super();
    const { dModel, nHeads } = opts;
    this.nHeads = nHeads;
    this.nKvHeads = opts.nKvHeads ?? nHeads;
    this.headDim = opts.headDim ?? dModel / nHeads;
    if (!Number.isInteger(this.headDim) || this.headDim < 1) fail("SelfAttention", `dModel ${dModel} is not a multiple of nHeads ${nHeads}: give headDim`);
    if (nHeads % this.nKvHeads !== 0) fail("SelfAttention", `nKvHeads ${this.nKvHeads} must divide nHeads ${nHeads}`);
    if (opts.fused && this.nKvHeads !== nHeads) fail("SelfAttention", "a fused qkv projection needs nKvHeads = nHeads");
    const p = { layout: opts.layout, initStd: opts.initStd, seed: initGenerator(opts.seed), backend: opts.backend }; // one stream: q, k, v and o differ
    const qb = { ...p, bias: opts.qkvBias ?? false };
    const [dq, dkv] = [nHeads * this.headDim, this.nKvHeads * this.headDim];
    if (opts.fused) this.qkv = this.registerModule("qkv", new Projection(dModel, dq + 2 * dkv, qb));
    else {
      this.q = this.registerModule("q", new Projection(dModel, dq, qb));
      this.k = this.registerModule("k", new Projection(dModel, dkv, { ...qb, bias: opts.keyBias ?? qb.bias }));
      this.v = this.registerModule("v", new Projection(dModel, dkv, qb));
    }
    this.o = this.registerModule("o", new Projection(dq, dModel, { ...p, bias: opts.outBias ?? false }));
  }

  initState(): AttentionState {
    return { pos: 0 };
  }

  /** x [B, T, D] -> heads [B, h, T, Dh] */
  private heads(x: Tensor, h: number): Tensor {
    return permute(reshape(x, [x.shape[0], x.shape[1], h, this.headDim]), [0, 2, 1, 3]);
  }

  forward(x: Tensor, state?: AttentionState, ctx: AttentionContext = {}): { y: Tensor; state: AttentionState } {
    if (x.rank !== 3 || x.shape[2] !== this.opts.dModel) fail("SelfAttention", `input [${x.shape}] must be [B, T, dModel = ${this.opts.dModel}]`);
    const [B, T] = x.shape;
    const pos = state?.pos ?? 0;
    const [dq, dkv] = [this.nHeads * this.headDim, this.nKvHeads * this.headDim];
    let q: Tensor, k: Tensor, v: Tensor;
    if (this.qkv) {
      const fused = this.qkv.forward(x); // [B, T, 3 D]
      [q, k, v] = [narrow(fused, 2, 0, dq), narrow(fused, 2, dq, dkv), narrow(fused, 2, dq + dkv, dkv)];
    } else [q, k, v] = [this.q!.forward(x), this.k!.forward(x), this.v!.forward(x)];
    q = this.heads(q, this.nHeads); // [B, H, T, Dh]
    k = this.heads(k, this.nKvHeads); // [B, Hkv, T, Dh]
    v = this.heads(v, this.nKvHeads);
    if (this.opts.rope) {
      const tables = ropeTables(T, this.opts.rope.rotaryDim ?? this.headDim, { ...this.opts.rope, backend: x.backend }, pos);
      q = applyRope(q, tables, this.opts.rope);
      k = applyRope(k, tables, this.opts.rope);
    }
    const w = this.opts.window;
    if (state?.k) {
      k = append(state.k as Tensor, k, 2); // [B, Hkv, pos + T, Dh], in place when state is the newest
      v = append(state.v as Tensor, v, 2);
    } else if ((this.opts.causal ?? true) && (!w || T < w)) {
      // A decoder's first step starts buffers with room to decode into (a window model's only
      // when the prompt fits the window: else the state keeps window - 1 of T keys).
      k = append(null, k, 2);
      v = append(null, v, 2);
    } else {
      // The cache starts contiguous (the heads are strided views of the projection): a later
      // step's append then copies whole [t, Dh] blocks per head instead of gathering rows of Dh.
      k = contiguous(k);
      v = contiguous(v);
    }
    const mask = { causal: this.opts.causal ?? true, window: w ? ([w - 1, 0] as const) : null, keyPadding: ctx.keyPadding ?? null, mask: ctx.bias ?? null, scale: this.opts.scale };
    const o = this.opts.kind === "sigmoid" ? sigmoidAttention(q, k, v, { ...mask, bias: this.opts.sigmoidBias ?? -Math.log(1024) }) : scaledDotProductAttention(q, k, v, mask); // [B, H, T, Dh]
    const y = this.o.forward(reshape(permute(o, [0, 2, 1, 3]), [B, T, dq]));
    // A sliding window only ever needs the last window - 1 keys.
    const kept = w ? Math.min(w - 1, k.shape[2]) : k.shape[2];
    const from = k.shape[2] - kept;
    // Without a window the state holds append's own handles (so a later branch can tell whether
    // anything still sees the rows past it: see append's rollback).
    const tail = (t: Tensor) => (from === 0 ? t : narrow(t, 2, from, kept));
    const next: AttentionState = kept > 0 ? { pos: pos + T, k: tail(k), v: tail(v) } : { pos: pos + T };
    return { y, state: next };
  }

  step(x: Tensor, state: AttentionState): { y: Tensor; state: AttentionState } {
    if (x.rank !== 2) fail("SelfAttention.step", `input [${x.shape}] must be [B, dModel = ${this.opts.dModel}]`);
    const r = this.forward(reshape(x, [x.shape[0], 1, x.shape[1]]), state);
    return { y: reshape(r.y, [x.shape[0], x.shape[1]]), state: r.state };
  }
}

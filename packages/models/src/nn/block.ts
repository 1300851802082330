/**
 * The MetaFormer block (Yu et al. 2022): a token mixer and a channel MLP, each wrapped in a
 * norm and a residual connection. Any TokenMixer fits (attention, Mamba, pooling, retention).
 *   pre-norm  (GPT-2, Llama, ViT, Mamba):  h = x + mixer(norm1(x));  out = h + mlp(norm2(h))
 *   post-norm (BERT, Vaswani et al. 2017):  h = norm1(x + mixer(x));  out = norm2(h + mlp(h))
 * Mamba blocks have no MLP (mlp and norm2 are null). An optional `post` layer maps the block's
 * output (a codebook-features bottleneck, an adapter): out = post(out).
 */
import { add, Module, type MixerState, type Tensor, type TokenMixer } from "@tessera/tensor";
import type { AttentionContext } from "./attention";

/** A module with forward(x) -> x of the same shape (LayerNorm, RMSNorm, MLP). */
export type Layer = Module & { forward(x: Tensor): Tensor };
/** A token mixer that is also a Module (so its parameters are named and saved). */
export type MixerModule = Module & TokenMixer & { forward(x: Tensor, state?: MixerState, ctx?: AttentionContext): { y: Tensor; state: MixerState } };

export interface BlockParts {
  mixer: MixerModule;
  norm1: Layer;
  mlp?: Layer | null;
  norm2?: Layer | null;
  /** Default 'pre'. */
  placement?: "pre" | "post";
  /** Applied to the block's output (e.g. @tessera/codebook's CodebookFeatures). */
  post?: Layer | null;
}

export class Block extends Module {
  readonly mixer: MixerModule;
  readonly norm1: Layer;
  readonly mlp: Layer | null;
  readonly norm2: Layer | null;
  readonly placement: "pre" | "post";
  readonly post: Layer | null;
  constructor(parts: BlockParts) {
    super();
    this.norm1 = this.registerModule("norm1", parts.norm1);
    this.mixer = this.registerModule("mixer", parts.mixer);
    this.norm2 = parts.norm2 ? this.registerModule("norm2", parts.norm2) : null;
    this.mlp = parts.mlp ? this.registerModule("mlp", parts.mlp) : null;
    this.placement = parts.placement ?? "pre";
    this.post = parts.post ? this.registerModule("post", parts.post) : null;
  }

  /** x [B, T, D] -> [B, T, D], continuing from the mixer state when given. */
  forward(x: Tensor, state?: MixerState, ctx?: AttentionContext): { y: Tensor; state: MixerState } {
    const r = this.mix(x, state, ctx);
    return this.post ? { y: this.post.forward(r.y), state: r.state } : r;
  }

  private mix(x: Tensor, state?: MixerState, ctx?: AttentionContext): { y: Tensor; state: MixerState } {
    if (this.placement === "post") {
      const r = this.mixer.forward(x, state, ctx);
      const h = this.norm1.forward(add(x, r.y));
      return { y: this.mlp ? this.norm2!.forward(add(h, this.mlp.forward(h))) : h, state: r.state };
    }
    const r = this.mixer.forward(this.norm1.forward(x), state, ctx);
    const h = add(x, r.y);
    return { y: this.mlp ? add(h, this.mlp.forward(this.norm2!.forward(h))) : h, state: r.state };
  }
}

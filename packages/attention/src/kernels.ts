/**
 * The fused kernels this package looks up in @tessera/tensor's kernel registry. A backend gets
 * one by registration (`@tessera/attention/webgpu` registers the WGSL flash forward); without
 * one the op runs its composed reference (tensor ops, every backend).
 */
import type { Tensor } from "@tessera/tensor";
import type { QKVDims } from "./shapes";

/** Registry name of the fused flash-attention forward. */
export const FLASH_ATTENTION = "attention.flashForward";

/**
 * The fused forward of tiled attention for scale + causal (bottom-right aligned) + grouped heads:
 * out [B, H, Tq, Dv] and the row logsumexp lse [B, H, Tq, 1] (the backward recomputes from it).
 */
export interface FlashForwardKernel {
  /** Whether this kernel covers the shapes and dtype (e.g. head dims within its tile budget). */
  applies(q: Tensor, d: QKVDims): boolean;
  run(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, scale: number, causal: boolean): { out: Tensor; lse: Tensor };
}

/** Registry name of the fused flash attention with its own backward and every bias but a general mask. */
export const FUSED_ATTENTION = "attention.fused";

/** The structured biases a fused kernel computes itself (bias.ts has their definitions). */
export interface FusedAttentionOptions {
  scale: number;
  causal: boolean;
  window: readonly [number, number] | null;
  /** [B, Tk] bool, true = padding key. */
  keyPadding: Tensor | null;
  /** One ALiBi slope per query head. */
  alibiSlopes: Tensor | readonly number[] | null;
  softcap: number | null;
  maskedRows: "nan" | "zero";
}

/**
 * A fused flash attention, forward and backward (FlashAttention-2's, recomputing probabilities
 * from the row logsumexp), for everything in FusedAttentionOptions; a general `mask` runs the
 * composed form. The cpu backend's is the WebAssembly SIMD kernel of flash-wasm/.
 */
export interface FusedAttentionKernel {
  /** Whether this kernel covers the dtypes, shapes and options (else the composed form runs). */
  applies(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, o: FusedAttentionOptions): boolean;
  /**
   * out [B, H, Tq, Dv], and the backward from its cotangent: [dq, dk, dv] (not itself
   * differentiable). The backward gets q, k, v again as the tape keeps them (alive even when the
   * caller disposed its handles), so the forward need not keep copies.
   */
  forward(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, o: FusedAttentionOptions): { out: Tensor; backward(dy: Tensor, qkv: readonly Tensor[]): [Tensor, Tensor, Tensor] };
}

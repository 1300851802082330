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

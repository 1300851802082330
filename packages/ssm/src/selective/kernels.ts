/**
 * The fused selective-scan kernel as @tessera/tensor's kernel registry holds it. The main entry
 * registers the cpu kernel (WebAssembly SIMD, TypeScript loops under it); `@tessera/ssm/webgpu`
 * registers the WGSL one. A backend without one runs the chunked scan (tensor ops).
 */
import type { Tensor } from "@tessera/tensor";
import type { ScanShape } from "./kernel-cpu";

/** Registry name of the fused selective scan. */
export const SELECTIVE_SCAN = "ssm.selectiveScan";

/** The scan's inputs by name (B/C in the layouts of ScanShape; bias = deltaBias, h0 = initial state). */
export type ScanSlot = "u" | "delta" | "A" | "B" | "C" | "D" | "z" | "bias" | "h0";

export interface SelectiveScanKernel {
  /** The largest state size N the kernel takes (the chunked scan runs beyond it). */
  maxState: number;
  /**
   * One forward over float32 inputs (`get(name)`: the input, or null where absent) on `backend`:
   * y [B, D, L] and the last state [B, D, N], and the backward from their cotangents (a gradient
   * per present input; missing entries count as none).
   */
  run(
    shape: ScanShape,
    get: (name: ScanSlot) => Tensor | null,
    backend: string,
  ): {
    values: [Tensor, Tensor];
    grad(dOut: Tensor, dLast: Tensor): Partial<Record<ScanSlot, Tensor | null>>;
  };
}

/** Registry name of the fused one-token step (selectiveStateUpdate; inference only). */
export const SELECTIVE_STATE_UPDATE = "ssm.selectiveStateUpdate";

/** selectiveStateUpdate's float32 inputs (z, D, dtBias null where absent; B and C as [B, G, N]). */
export interface StateUpdateInputs {
  state: Tensor;
  x: Tensor;
  dt: Tensor;
  z: Tensor | null;
  A: Tensor;
  /** A holds log(-A): the kernel uses -exp(A). */
  aLog: boolean;
  B: Tensor;
  C: Tensor;
  D: Tensor | null;
  dtBias: Tensor | null;
  softplus: boolean;
}

export interface StateUpdateKernel {
  /** Whether it serves these inputs (else the composed form runs); asked before the counted lookup. */
  applies(t: StateUpdateInputs): boolean;
  /** y [B, D] and the new state [B, D, N] in one pass (called where no gradient is recorded). */
  run(t: StateUpdateInputs): { y: Tensor; state: Tensor };
}

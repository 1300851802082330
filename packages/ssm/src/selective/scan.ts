/**
 * selectiveScan: the Mamba selective scan (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling
 * with Selective State Spaces", Algorithm 2), with mamba_ssm's `selective_scan_ref` semantics.
 * One entry point, four interchangeable implementations that agree to float32 rounding (tested).
 */
import type { Tensor } from "@tessera/tensor";
import { fail } from "../util";
import { checkScanArgs, type SelectiveScanImplementation, type SelectiveScanOptions } from "./args";
import { selectiveScanAssociative } from "./associative";
import { selectiveScanChunked } from "./chunked";
import type { ScanResult } from "./common";
import { FUSED_BACKENDS, selectiveScanFused } from "./fused";
import { WGSL_MAX_STATE } from "./kernel-wgsl";
import { selectiveScanReference } from "./reference";

function fusedApplies(backend: string, N: number): boolean {
  return FUSED_BACKENDS.includes(backend) && (backend !== "webgpu" || N <= WGSL_MAX_STATE);
}

/**
 * y [B, D, L] and the state after the last step [B, D, N] (the `return_last_state` of
 * mamba_ssm). See SelectiveScanOptions for D, z, deltaBias, deltaSoftplus, initialState and
 * the implementation choice. Differentiable in every input through every implementation.
 */
export function selectiveScan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, opts: SelectiveScanOptions = {}): ScanResult {
  const a = checkScanArgs(u, delta, A, B, C, opts);
  let impl: SelectiveScanImplementation = opts.implementation ?? "auto";
  if (impl === "auto") impl = fusedApplies(u.backend, a.dims.N) ? "fused" : "chunked";
  switch (impl) {
    case "reference":
      return selectiveScanReference(a);
    case "associative":
      return selectiveScanAssociative(a);
    case "chunked":
      return selectiveScanChunked(a, opts.chunkSize ?? 16);
    default:
      if (!fusedApplies(u.backend, a.dims.N)) {
        fail("selectiveScan", `no fused kernel for backend '${u.backend}' with state size ${a.dims.N} (fused: cpu, and webgpu up to N = ${WGSL_MAX_STATE}); use implementation 'chunked' or 'auto'`);
      }
      return selectiveScanFused(a);
  }
}

export type { SelectiveScanImplementation, SelectiveScanOptions, ScanResult };

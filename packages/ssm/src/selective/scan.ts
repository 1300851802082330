/**
 * selectiveScan: the Mamba selective scan (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling
 * with Selective State Spaces", Algorithm 2), with mamba_ssm's `selective_scan_ref` semantics.
 * One entry point, four interchangeable implementations that agree to float32 rounding (tested).
 */
import { getKernel, kernelBackends, type Tensor } from "@tessera/tensor";
import { fail } from "../util";
import { checkScanArgs, type SelectiveScanImplementation, type SelectiveScanOptions } from "./args";
import { selectiveScanAssociative } from "./associative";
import { selectiveScanChunked } from "./chunked";
import type { ScanResult } from "./common";
import { selectiveScanFused } from "./fused";
import { SELECTIVE_SCAN, type SelectiveScanKernel } from "./kernels";
import { selectiveScanReference } from "./reference";

/** The registered fused kernel for this backend and state size (explicit: even under the 'reference' preference). */
function fusedKernel(backend: string, N: number, explicit: boolean): SelectiveScanKernel | undefined {
  const k = getKernel<SelectiveScanKernel>(SELECTIVE_SCAN, backend, { ignorePreference: explicit });
  return k && N <= k.maxState ? k : undefined;
}

/**
 * y [B, D, L] and the state after the last step [B, D, N] (the `return_last_state` of
 * mamba_ssm). See SelectiveScanOptions for D, z, deltaBias, deltaSoftplus, initialState and
 * the implementation choice. Differentiable in every input through every implementation.
 */
export function selectiveScan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, opts: SelectiveScanOptions = {}): ScanResult {
  const a = checkScanArgs(u, delta, A, B, C, opts);
  let impl: SelectiveScanImplementation = opts.implementation ?? "auto";
  if (impl === "auto") {
    const k = fusedKernel(u.backend, a.dims.N, false);
    if (k) return selectiveScanFused(a, k);
    impl = "chunked";
  }
  switch (impl) {
    case "reference":
      return selectiveScanReference(a);
    case "associative":
      return selectiveScanAssociative(a);
    case "chunked":
      return selectiveScanChunked(a, opts.chunkSize ?? 16);
    default: {
      const k = fusedKernel(u.backend, a.dims.N, true);
      if (!k) {
        const have = kernelBackends(SELECTIVE_SCAN).join(", ") || "none";
        fail(
          "selectiveScan",
          `no fused kernel for backend '${u.backend}' with state size ${a.dims.N} (registered for: ${have}; webgpu takes N up to 256 once "@tessera/ssm/webgpu" is imported); use implementation 'chunked' or 'auto'`,
        );
      }
      return selectiveScanFused(a, k);
    }
  }
}

export type { SelectiveScanImplementation, SelectiveScanOptions, ScanResult };

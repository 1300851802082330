/**
 * Arguments of the selective scan, checked once and normalised for every implementation.
 *
 * Layouts follow mamba_ssm's `selective_scan_ref` (channels before time):
 *   u, delta, z   [B, D, L]      input, step size (before softplus), gate
 *   A             [D, N]         state matrix (diagonal per channel; real, negative for decay)
 *   B, C          [D, N]         time-invariant, or
 *                 [B, N, L]      input-dependent, shared by all channels, or
 *                 [B, G, N, L]   input-dependent per group of D/G channels
 *   D, deltaBias  [D]
 *   initialState  [B, D, N]
 */
import type { Tensor } from "@tessera/tensor";
import { checkTensors, fail as failOp, positiveInt, shp } from "../util";

export type SelectiveScanImplementation = "auto" | "reference" | "chunked" | "associative" | "fused";

export interface SelectiveScanOptions {
  /** Skip connection: y += D * u. [D] */
  D?: Tensor | null;
  /** Gate: y *= silu(z). [B, D, L] */
  z?: Tensor | null;
  /** Added to delta before the softplus. [D] */
  deltaBias?: Tensor | null;
  /** dt = softplus(delta + deltaBias) (default false, as mamba_ssm; Mamba layers pass true). */
  deltaSoftplus?: boolean;
  /** State before the first step (default zeros). [B, D, N] */
  initialState?: Tensor | null;
  /**
   * 'reference': the literal recurrence, one step at a time (the oracle).
   * 'chunked': chunks of `chunkSize` steps in closed form, chunk states carried sequentially.
   * 'associative': a Hillis-Steele parallel prefix scan over (a, b) pairs.
   * 'fused': one kernel (WebAssembly SIMD / TypeScript loops on cpu, WGSL on webgpu once
   * `@tessera/ssm/webgpu` is imported) with a fused backward, from @tessera/tensor's kernel
   * registry (SELECTIVE_SCAN); asked for explicitly it runs under the 'reference' preference too.
   * 'auto' (default): 'fused' where a kernel is registered for the backend and state size and
   * the kernel preference is 'fast', 'chunked' elsewhere.
   */
  implementation?: SelectiveScanImplementation;
  /** Steps per chunk for 'chunked' (default 16). */
  chunkSize?: number;
}

/** B or C as a 4-D view [Bb, G, N, L] with its strides, so kernels index every layout alike. */
export interface ProjLayout {
  kind: "time-invariant" | "shared" | "grouped";
  /** Number of groups (D for time-invariant, 1 for shared). */
  G: number;
  /** Strides of (batch, group, state, time) in the contiguous input; 0 where broadcast. */
  strides: [number, number, number, number];
}

export interface ScanArgs {
  u: Tensor;
  delta: Tensor;
  A: Tensor;
  B: Tensor;
  C: Tensor;
  D: Tensor | null;
  z: Tensor | null;
  deltaBias: Tensor | null;
  softplus: boolean;
  h0: Tensor | null;
  dims: { Bb: number; Dm: number; L: number; N: number };
  bLayout: ProjLayout;
  cLayout: ProjLayout;
}

function fail(msg: string): never {
  return failOp("selectiveScan", msg);
}

function projLayout(name: string, t: Tensor, Bb: number, Dm: number, N: number, L: number): ProjLayout {
  if (t.rank === 2) {
    if (t.shape[0] !== Dm || t.shape[1] !== N) fail(`${name} ${shp(t)} must be [D, N] = [${Dm},${N}] when time-invariant`);
    return { kind: "time-invariant", G: Dm, strides: [0, N, 1, 0] };
  }
  if (t.rank === 3) {
    if (t.shape[0] !== Bb || t.shape[1] !== N || t.shape[2] !== L) fail(`${name} ${shp(t)} must be [B, N, L] = [${Bb},${N},${L}]`);
    return { kind: "shared", G: 1, strides: [N * L, 0, L, 1] };
  }
  if (t.rank === 4) {
    const G = t.shape[1];
    if (t.shape[0] !== Bb || t.shape[2] !== N || t.shape[3] !== L || G < 1 || Dm % G !== 0) {
      fail(`${name} ${shp(t)} must be [B, G, N, L] = [${Bb},G,${N},${L}] with G dividing D = ${Dm}`);
    }
    return { kind: "grouped", G, strides: [G * N * L, N * L, L, 1] };
  }
  fail(`${name} ${shp(t)} must be [D, N], [B, N, L] or [B, G, N, L]`);
}

export function checkScanArgs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, o: SelectiveScanOptions): ScanArgs {
  checkTensors("selectiveScan", u, { u, delta, A, B, C, D: o.D, z: o.z, deltaBias: o.deltaBias, initialState: o.initialState });
  if (u.rank !== 3) fail(`u ${shp(u)} must be [B, D, L]`);
  const [Bb, Dm, L] = u.shape;
  if (delta.rank !== 3 || delta.shape.join() !== u.shape.join()) fail(`delta ${shp(delta)} must match u ${shp(u)}`);
  if (A.rank !== 2 || A.shape[0] !== Dm) fail(`A ${shp(A)} must be [D, N] with D = ${Dm}`);
  const N = A.shape[1];
  if (N < 1) fail(`A ${shp(A)} has no state dimension`);
  const bLayout = projLayout("B", B, Bb, Dm, N, L);
  const cLayout = projLayout("C", C, Bb, Dm, N, L);
  for (const [name, t] of [
    ["D", o.D],
    ["deltaBias", o.deltaBias],
  ] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== Dm)) fail(`${name} ${shp(t)} must be [D] = [${Dm}]`);
  }
  if (o.z && o.z.shape.join() !== u.shape.join()) fail(`z ${shp(o.z)} must match u ${shp(u)}`);
  const h0 = o.initialState ?? null;
  if (h0 && (h0.rank !== 3 || h0.shape[0] !== Bb || h0.shape[1] !== Dm || h0.shape[2] !== N)) fail(`initialState ${shp(h0)} must be [B, D, N] = [${Bb},${Dm},${N}]`);
  positiveInt("selectiveScan", "chunkSize", o.chunkSize ?? 16);
  const impl = o.implementation ?? "auto";
  if (!["auto", "reference", "chunked", "associative", "fused"].includes(impl)) fail(`unknown implementation '${impl}'`);
  return { u, delta, A, B, C, D: o.D ?? null, z: o.z ?? null, deltaBias: o.deltaBias ?? null, softplus: o.deltaSoftplus ?? false, h0, dims: { Bb, Dm, L, N }, bLayout, cLayout };
}

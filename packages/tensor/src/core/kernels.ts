/**
 * The kernel registry: fused kernels (a flash-attention forward, a quantized GEMV, a selective
 * scan, a codebook search) are registered per backend name and looked up by the op that can use
 * them. A missing kernel is a failed lookup, never an `if` on a backend's name: the op then runs
 * its composed reference (tensor ops that work on every backend), and `kernelStats()` counts
 * both outcomes so a fallback is visible.
 *
 *   registerKernel("flashAttention", "webgpu", flashForward);   // in @tessera/attention/webgpu
 *   const k = getKernel<FlashKernel>("flashAttention", q.backend); // in the op
 *   const out = k ? k(q, k, v) : composedReference(q, k, v);
 *
 * One global preference chooses between the fast paths and the references:
 * `setKernelPreference("reference")` makes every lookup fail (ops run their composed
 * references) and puts the cpu backend on its plain TypeScript loops (no WASM SIMD); the
 * conformance suite computes its expected values that way. A per-call `implementation` option,
 * where an op has one, wins over the preference.
 *
 * The registry lives in the process-wide engine state, so every copy of this package (ESM and
 * CJS side by side) sees the same kernels.
 */
import { fail } from "./errors";
import { state } from "./state";

export type KernelPreference = "fast" | "reference";

/**
 * Registers `impl` as kernel `name` for the backend called `backend` (a later registration
 * replaces an earlier one). `impl` is whatever the op that looks it up expects: a function or an
 * object of functions and limits.
 */
export function registerKernel<K>(name: string, backend: string, impl: K): void {
  if (!name || !backend) fail("registerKernel", `name and backend must be non-empty (got '${name}', '${backend}')`);
  let byBackend = state.kernels.get(name);
  if (!byBackend) state.kernels.set(name, (byBackend = new Map()));
  byBackend.set(backend, impl);
}

/** Removes kernel `name` for `backend` (tests; a backend that lost a feature). */
export function unregisterKernel(name: string, backend: string): void {
  state.kernels.get(name)?.delete(backend);
}

export interface GetKernelOptions {
  /** Look the kernel up even under the 'reference' preference (a per-call implementation asked for it). */
  ignorePreference?: boolean;
  /** Count the lookup in kernelStats() (default true; pass false for a probe that decides nothing). */
  count?: boolean;
}

/**
 * The kernel registered as `name` for `backend`, or undefined: missing, or the global preference
 * is 'reference'. Each lookup is counted as a kernel call or a reference call (see kernelStats).
 */
export function getKernel<K>(name: string, backend: string, opts: GetKernelOptions = {}): K | undefined {
  const impl = opts.ignorePreference || state.kernelPreference === "fast" ? (state.kernels.get(name)?.get(backend) as K | undefined) : undefined;
  if (opts.count !== false) {
    const key = `${name}/${backend}`;
    const counts = impl === undefined ? state.kernelCalls.reference : state.kernelCalls.kernel;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return impl;
}

/** Whether kernel `name` is registered for `backend` (ignores the preference; not counted). */
export function hasKernel(name: string, backend: string): boolean {
  return state.kernels.get(name)?.has(backend) ?? false;
}

/** Registered kernels: name -> backend names. */
export function listKernels(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, m] of state.kernels) if (m.size) out[name] = [...m.keys()];
  return out;
}

/** Counts of lookups that ran a registered kernel and of those that fell back to the reference, by `name/backend`. */
export function kernelStats(): { kernel: Record<string, number>; reference: Record<string, number> } {
  return { kernel: Object.fromEntries(state.kernelCalls.kernel), reference: Object.fromEntries(state.kernelCalls.reference) };
}

/** Zeroes kernelStats(). */
export function resetKernelStats(): void {
  state.kernelCalls.kernel.clear();
  state.kernelCalls.reference.clear();
}

/**
 * 'fast' (default): registered kernels, the cpu backend's WASM SIMD kernels and the packages'
 * WASM kernels. 'reference': none of them: composed references and plain loops, the oracle the
 * tests compare fast paths against. Returns the previous preference.
 */
export function setKernelPreference(pref: KernelPreference): KernelPreference {
  if (pref !== "fast" && pref !== "reference") fail("setKernelPreference", `expected 'fast' or 'reference', got ${JSON.stringify(pref)}`);
  const prev = state.kernelPreference;
  state.kernelPreference = pref;
  return prev;
}

export function getKernelPreference(): KernelPreference {
  return state.kernelPreference;
}

/** Runs `fn` under a preference and restores the previous one (also when fn throws). */
export function withKernelPreference<T>(pref: KernelPreference, fn: () => T): T {
  const prev = setKernelPreference(pref);
  try {
    return fn();
  } finally {
    setKernelPreference(prev);
  }
}

/** The kernels registered for `backend`, for an error message ("registered for: cpu, webgpu"). */
export function kernelBackends(name: string): string[] {
  return [...(state.kernels.get(name)?.keys() ?? [])];
}

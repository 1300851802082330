/**
 * Process-wide engine state, shared by every copy of this package that gets loaded (the ESM
 * and CJS builds side by side, or two bundles): backends, scopes, tapes and memory counters
 * live on globalThis under a versioned symbol, so tensors from one copy work in the other.
 */
import type { Backend } from "../backend/backend";
import type { BackendMemory } from "./storage";
import type { Tape } from "./tape";
import type { Tensor } from "./tensor";

export interface BackendEntry {
  factory: () => Backend | Promise<Backend>;
  instance?: Backend;
  pending?: Promise<Backend>;
  error?: unknown;
}

export interface Scope {
  tensors: Tensor[];
}

export interface EngineState {
  registry: Map<string, BackendEntry>;
  currentBackend: string;
  scopes: Scope[];
  liveMemory: Map<string, BackendMemory>;
  tapes: Tape[];
  pausedDepth: number;
  nextTensorId: number;
  /** Highest live storage bytes per backend since the last resetPeakMemory(). */
  peakBytes: Map<string, number>;
  /** Fused kernels by name, then backend name (see core/kernels.ts). */
  kernels: Map<string, Map<string, unknown>>;
  /** 'fast': registered kernels and SIMD paths; 'reference': plain loops and composed ops. */
  kernelPreference: "fast" | "reference";
  /** Calls that ran a registered kernel / the composed reference, by `name/backend`. */
  kernelCalls: { kernel: Map<string, number>; reference: Map<string, number> };
}

const KEY = Symbol.for("@tessera/tensor/engine-state@1");

export const state: EngineState = ((globalThis as Record<symbol, unknown>)[KEY] ??= {
  registry: new Map(),
  currentBackend: "cpu",
  scopes: [],
  liveMemory: new Map(),
  tapes: [],
  pausedDepth: 0,
  nextTensorId: 1,
  peakBytes: new Map(),
  kernels: new Map(),
  kernelPreference: "fast",
  kernelCalls: { kernel: new Map(), reference: new Map() },
} satisfies EngineState) as EngineState;
// A state object made by an older copy of the package lacks the newer fields.
state.peakBytes ??= new Map();
state.kernels ??= new Map();
state.kernelPreference ??= "fast";
state.kernelCalls ??= { kernel: new Map(), reference: new Map() };

/** Brand on every tensor: `isTensor` works across copies of the package (unlike instanceof). */
export const TENSOR_BRAND = Symbol.for("@tessera/tensor/Tensor");

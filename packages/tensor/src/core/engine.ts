/**
 * Global engine state: the backend registry, tidy scopes and memory accounting.
 */
import type { Backend } from "../backend/backend";
import { createCpuBackend } from "../backend/cpu";
import { fail } from "./errors";
import { state, TENSOR_BRAND, type BackendEntry, type Scope } from "./state";
import type { BackendMemory } from "./storage";
import type { Tensor } from "./tensor";

// --- backends ------------------------------------------------------------------------------------

const { registry } = state;
/** The cpu backend is always there; others register themselves when their package loads. */
if (!registry.has("cpu")) registry.set("cpu", { factory: createCpuBackend });

/** Registers a backend factory under a name; a later registration replaces the factory. */
export function registerBackend(name: string, factory: () => Backend | Promise<Backend>): void {
  registry.set(name, { factory });
}

export function listBackends(): string[] {
  return [...registry.keys()];
}

function initialize(name: string): BackendEntry {
  const entry = registry.get(name);
  if (!entry) fail("setBackend", `unknown backend '${name}' (registered: ${listBackends().join(", ") || "none"})`);
  if (!entry.instance && !entry.pending && entry.error === undefined) {
    try {
      const made = entry.factory();
      if (made instanceof Promise) {
        entry.pending = made.then(
          (b) => {
            entry.instance = b;
            entry.pending = undefined;
            return b;
          },
          (e) => {
            entry.error = e;
            entry.pending = undefined;
            throw e;
          },
        );
        entry.pending.catch(() => undefined);
      } else entry.instance = made;
    } catch (e) {
      entry.error = e;
    }
  }
  return entry;
}

/** Selects the backend new tensors are created on. Async backends need `await ready()` after. */
export function setBackend(name: string): void {
  initialize(name);
  state.currentBackend = name;
}

/** Resolves when the current (or named) backend has initialized; rejects with its error. */
export async function ready(name = state.currentBackend): Promise<Backend> {
  const entry = initialize(name);
  if (entry.instance) return entry.instance;
  if (entry.pending) return entry.pending;
  throw new Error(`ready: backend '${name}' failed to initialize: ${String((entry.error as Error)?.message ?? entry.error)}`);
}

export function getBackendName(): string {
  return state.currentBackend;
}

/** The backend instance by name (default: current). Throws a clear error when not ready. */
export function backendInstance(name = state.currentBackend): Backend {
  const entry = initialize(name);
  if (entry.instance) return entry.instance;
  if (entry.pending) fail("backend", `backend '${name}' is still initializing: await ready() after setBackend('${name}')`);
  fail("backend", `backend '${name}' is unavailable: ${String((entry.error as Error)?.message ?? entry.error)}`);
}

// --- scopes --------------------------------------------------------------------------------------

const { scopes } = state;

/** Called by every new user-visible tensor: the innermost tidy scope owns it. */
export function trackTensor(t: Tensor): void {
  const scope = scopes[scopes.length - 1];
  if (scope) scope.tensors.push(t);
}

function collectTensors(value: unknown, into: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (isTensorLike(value)) {
    into.add(value);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, into, seen);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, seen);
    return;
  }
  if (ArrayBuffer.isView(value)) return;
  for (const v of Object.values(value)) collectTensors(v, into, seen);
}

function isTensorLike(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[TENSOR_BRAND] === true;
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (searched through
 * arrays, objects and Maps) and those passed to `keep`. Returned tensors move to the outer scope.
 */
export function tidy<T>(fn: () => T): T {
  const { result, created } = scoped(fn);
  if (result instanceof Promise) fail("tidy", "fn returned a Promise; tidy only tracks synchronous work");
  const keepSet = new Set<Tensor>();
  collectTensors(result, keepSet);
  for (const t of created) {
    if (keepSet.has(t)) trackTensor(t);
    else if (!t.kept) t.dispose();
  }
  return result;
}

/** Exempts a tensor from every enclosing tidy; it lives until `dispose()`. */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

/** Disposes tensors found in a value (a tensor, array, object or Map of them). */
export function dispose(value: unknown): void {
  const set = new Set<Tensor>();
  collectTensors(value, set);
  for (const t of set) t.dispose();
}

// --- memory --------------------------------------------------------------------------------------

export interface MemoryInfo extends BackendMemory {
  backends: Record<string, BackendMemory & { peakBytes: number }>;
  /** Sum over backends of each one's peak live bytes since resetPeakMemory(). */
  peakBytes: number;
}

/** Starts peak tracking afresh from the current live bytes (for measuring an op's peak memory). */
export function resetPeakMemory(): void {
  for (const [name, m] of state.liveMemory) state.peakBytes.set(name, m.numBytes);
}

/** Live tensor handles, storages and bytes, in total and per backend. */
export function memory(): MemoryInfo {
  const out: MemoryInfo = { numTensors: 0, numStorages: 0, numBytes: 0, peakBytes: 0, backends: {} };
  for (const [name, m] of state.liveMemory) {
    const peak = Math.max(state.peakBytes.get(name) ?? 0, m.numBytes);
    out.backends[name] = { ...m, peakBytes: peak };
    out.numTensors += m.numTensors;
    out.numStorages += m.numStorages;
    out.numBytes += m.numBytes;
    out.peakBytes += peak;
  }
  return out;
}

/**
 * Runs fn in a fresh scope and returns the tensors it created without disposing any; the caller
 * takes ownership (see customGrad). On error they are disposed.
 */
export function scoped<T>(fn: () => T): { result: T; created: Tensor[] } {
  const scope: Scope = { tensors: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope.tensors) if (!t.kept) t.dispose();
    throw e;
  }
  scopes.pop();
  return { result, created: scope.tensors };
}

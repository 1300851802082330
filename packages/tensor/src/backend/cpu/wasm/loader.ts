/**
 * The one WebAssembly runtime of Tessera's packages: module decoding and loading (a plain and a
 * shared-memory variant, synchronous where allowed, in the background where a browser main
 * thread refuses), memory creation and growth, and the process-wide budget of weights kept
 * resident in WASM memory between products. The cpu backend's kernels, @tessera/quantize's
 * quantized GEMV and @tessera/ssm's scan all load through it (`@tessera/tensor/wasm`); the
 * worker pool is startWasmPool (threads.ts).
 */

import type { WasmMemoryLike, WasmModuleLike } from "./threads";
import type { StorageArray } from "../../../core/dtype";

// Public signatures use the structural WasmModuleLike / WasmMemoryLike (threads.ts): the
// published declarations compile without the DOM lib, where TypeScript declares WebAssembly.

export const WASM_PAGE = 65536;
export { canShareWasmMemory, wasmFeatures, type WasmFeatures } from "./features";
import { canShareWasmMemory, wasmFeatures } from "./features";

/** The bytes of a base64-embedded module. */
export function decodeWasm(b64: string): Uint8Array<ArrayBuffer> {
  const B = (globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } }).Buffer;
  if (B) return new Uint8Array(B.from(b64, "base64"));
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A memory for an imported-memory module: shared (maximum 2 GiB, for workers) or plain; 2 pages to start. */
export function createWasmMemory(shared: boolean): WasmMemoryLike {
  return shared ? new WebAssembly.Memory({ initial: 2, maximum: 32768, shared: true }) : new WebAssembly.Memory({ initial: 2 });
}

/** Grows `memory` so that it holds at least `bytes` bytes (views of the old buffer go stale). */
export function growWasmMemory(memory: WasmMemoryLike, bytes: number): void {
  const need = Math.ceil(bytes / WASM_PAGE) - memory.buffer.byteLength / WASM_PAGE;
  if (need > 0) memory.grow(need);
}

/** The worker count to use by default: all cores (Node: availableParallelism; browsers: hardwareConcurrency). */
export async function defaultWasmThreads(): Promise<number> {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    const spec = "node:os";
    const os = (await import(/* @vite-ignore */ spec)) as typeof import("node:os");
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return g.navigator?.hardwareConcurrency ?? 1;
}

export interface WasmModuleVariants {
  /** base64 of the module importing a plain memory (`env.memory`). */
  plain: string;
  /** base64 of the same module importing a shared memory, used where memory can be shared. */
  shared?: string;
  /**
   * The same module built with relaxed SIMD (fused multiply-add), used instead where the runtime
   * has relaxed SIMD (`wasmFeatures().relaxedSimd`); plain and shared as above.
   */
  relaxed?: { plain: string; shared?: string };
}

export interface CompiledWasm {
  /** A WebAssembly.Module. */
  module: WasmModuleLike;
  /** Whether this is the shared-memory variant (memories for it must be shared). */
  shared: boolean;
  /** Whether this is the relaxed-SIMD variant. */
  relaxed: boolean;
}

/**
 * Compiles a module: the relaxed-SIMD build where the runtime has relaxed SIMD and the caller
 * has one, else the SIMD128 build; of it, the shared variant where memory can be shared, else
 * the plain one. Returns the compiled module; null where WebAssembly or SIMD is missing (the
 * module does not validate); undefined where a browser main thread refuses a synchronous
 * compile: it then compiles in the background and calls `onCompiled` (the caller's TypeScript
 * loops serve meanwhile).
 */
export function compileWasm(v: WasmModuleVariants, onCompiled?: (c: CompiledWasm | null) => void): CompiledWasm | null | undefined {
  if (typeof WebAssembly === "undefined") return null;
  const relaxed = !!v.relaxed && wasmFeatures().relaxedSimd;
  const set = relaxed ? v.relaxed! : v;
  const shared = !!set.shared && canShareWasmMemory();
  const bytes = decodeWasm(shared ? set.shared! : set.plain);
  if (!WebAssembly.validate(bytes)) {
    // a relaxed build this runtime refuses after all (an op beyond the probe's): the SIMD128 build
    if (relaxed) return compileWasm({ plain: v.plain, shared: v.shared }, onCompiled);
    return null; // no WebAssembly SIMD here
  }
  try {
    return { module: new WebAssembly.Module(bytes), shared, relaxed };
  } catch {
    if (typeof WebAssembly.compile !== "function") return null;
    void WebAssembly.compile(bytes).then(
      (module) => onCompiled?.({ module, shared, relaxed }),
      () => onCompiled?.(null),
    );
    return undefined;
  }
}

/** Instantiates a compiled module with a new memory of its kind; `env.abort` throws. */
export function instantiateWasm<E>(c: CompiledWasm): { exports: E; memory: WasmMemoryLike } {
  const memory = createWasmMemory(c.shared);
  const exports = new WebAssembly.Instance(c.module as WebAssembly.Module, {
    env: {
      memory: memory as WebAssembly.Memory,
      abort: () => {
        throw new Error("wasm abort");
      },
    },
  }).exports as unknown as E;
  return { exports, memory };
}

// --- the resident-weight budget ---------------------------------------------------------------

/** A cache of weights kept in some module's memory; it counts toward the one budget. */
export interface ResidentCache {
  /** Bytes it keeps now. */
  readonly bytes: number;
  /** Drops everything it keeps. */
  clear(): void;
  /**
   * Cheap to refill (a copy, not a re-pack): when the budget is short, reserveResident drops the
   * caches marked so before dropping every cache.
   */
  readonly evictFirst?: boolean;
  /**
   * The cpu backend freed `arr` (pooled arrays come back with other contents) or lent it out
   * for zero-copy use (the caller may write it from now on): drop what is kept of it.
   */
  forgetStorage?(arr: StorageArray): void;
  /**
   * The cpu backend is writing `arr` in place at the strided view `at` (`assign`, the optimizers,
   * `append`'s rows): drop what it kept of those elements. Without this method, `forgetStorage(arr)`.
   */
  storageWritten?(arr: StorageArray, at: WrittenView): void;
}

/** Where an in-place write lands in its storage array: element offset, shape and strides. */
export interface WrittenView {
  readonly offset: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
}

interface ResidentState {
  budget: number;
  caches: Set<ResidentCache>;
}

const KEY = Symbol.for("@tessera/tensor/wasm-resident@1");
const resident: ResidentState = ((globalThis as Record<symbol, unknown>)[KEY] ??= { budget: 1 << 30, caches: new Set() } satisfies ResidentState) as ResidentState;

/** Adds a cache to the budget's accounting (once per cache). */
export function registerResidentCache(c: ResidentCache): void {
  if (resident.caches.has(c)) return;
  if (!c || typeof c.clear !== "function" || typeof c.bytes !== "number")
    throw new TypeError("registerResidentCache: a ResidentCache needs `bytes` (a number: the bytes it keeps now) and `clear()` (drop them all)");
  resident.caches.add(c);
}

/**
 * Makes room for `bytes` more resident bytes in `c`: false when they exceed the whole budget
 * (keep nothing); otherwise true, after dropping, if the total would pass the budget, the other
 * caches marked `evictFirst`, and if that is not enough every cache's contents (decoding refills
 * what it uses next).
 */
export function reserveResident(c: ResidentCache, bytes: number): boolean {
  registerResidentCache(c);
  if (bytes > resident.budget) return false;
  const fits = () => residentBytes() + bytes <= resident.budget;
  if (!fits()) for (const x of resident.caches) if (x.evictFirst && x !== c) x.clear();
  if (!fits()) for (const x of resident.caches) x.clear();
  return true;
}

/** Tells every cache that the cpu backend freed or lent out `arr` (ResidentCache.forgetStorage). */
export function residentForget(arr: StorageArray): void {
  for (const c of resident.caches) c.forgetStorage?.(arr);
}

/** Tells every cache that the cpu backend writes `arr` in place at `at` (ResidentCache.storageWritten). */
export function residentWritten(arr: StorageArray, at: WrittenView): void {
  for (const c of resident.caches) {
    if (c.storageWritten) c.storageWritten(arr, at);
    else c.forgetStorage?.(arr);
  }
}

/** Resident bytes now, over every module's cache. */
export function residentBytes(): number {
  let n = 0;
  for (const c of resident.caches) n += c.bytes;
  return n;
}

/**
 * Sets the one byte budget of weights kept resident in WASM memory, over the cpu backend's
 * kernels and the packages' (default 1 GiB; 0 keeps none). Drops what is kept now.
 */
export function setWasmWeightBudget(bytes: number): void {
  if (!(bytes >= 0)) throw new RangeError(`setWasmWeightBudget: bytes must be >= 0, got ${bytes}`);
  resident.budget = bytes;
  for (const c of resident.caches) c.clear();
}

/** The resident-weight budget and the bytes kept now. */
export function wasmWeightBudget(): { bytes: number; budget: number } {
  return { bytes: residentBytes(), budget: resident.budget };
}

/**
 * Weights kept resident in WASM memory between products. A decoding step multiplies one token by
 * every weight of the model: copying each weight into WASM memory costs more than the product
 * itself (GPT-2 small: 475 MiB copied per token). A matrix seen as the B operand of a second
 * product is kept at the bottom of WASM memory (kernels' scratch space starts above it), so
 * later products read it in place. Activations, used once, are never kept.
 *
 * Validity: an entry is dropped when its storage array is written in place (`assign`, the
 * optimizers) or freed (pooled arrays come back with other contents); arrays lent by the caller
 * (zero-copy views) are never kept. Over the budget, everything is dropped and refilled.
 */
import type { StorageArray } from "../../../core/dtype";
import { registerResidentCache, reserveResident, wasmWeightBudget, type ResidentCache } from "./loader";

const ALIGN = 64;

export class ResidentWeights implements ResidentCache {
  private entries = new WeakMap<StorageArray, Map<string, number>>();
  /** Seen once as a B operand: kept on the second sighting. */
  private seen = new WeakMap<StorageArray, Set<string>>();
  /** First byte after the resident data (kernels' scratch starts here). */
  end: number;

  constructor(private readonly base: number) {
    this.end = base;
    registerResidentCache(this);
  }

  /** The one resident-weight budget (loader.ts), shared with the packages' WASM kernels. */
  get budget(): number {
    return wasmWeightBudget().budget;
  }

  /** The byte offset of a resident matrix, or undefined. */
  lookup(arr: StorageArray, key: string): number | undefined {
    return this.entries.get(arr)?.get(key);
  }

  /**
   * Whether to keep `bytes` of `arr` now (its second sighting, within the budget). Returns the
   * offset to copy it to, or null; `grow` must make [offset, offset + bytes) exist.
   */
  admit(arr: StorageArray, key: string, bytes: number): number | null {
    if (bytes > this.budget) return null;
    let keys = this.seen.get(arr);
    if (!keys?.has(key)) {
      if (!keys) this.seen.set(arr, (keys = new Set()));
      keys.add(key);
      return null;
    }
    if (!reserveResident(this, bytes)) return null; // over the budget: every cache was dropped
    const at = this.end;
    this.end = Math.ceil((at + bytes) / ALIGN) * ALIGN;
    let m = this.entries.get(arr);
    if (!m) this.entries.set(arr, (m = new Map()));
    m.set(key, at);
    return at;
  }

  /** Drops every entry of `arr` (written in place or freed). */
  forgetStorage(arr: StorageArray): void {
    this.entries.delete(arr);
    this.seen.delete(arr);
  }

  clear(): void {
    this.entries = new WeakMap();
    this.end = this.base;
  }

  get bytes(): number {
    return this.end - this.base;
  }
}

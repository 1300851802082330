import type { StorageArray } from "../../core/dtype";
import type { Tensor } from "../../core/tensor";
import { isBorrowed } from "./pool";

/**
 * Whether a copy of `t`'s storage kept in some module's WASM memory (a ResidentCache) can stay
 * valid: true for the cpu backend's own arrays, whose every in-place write, free and zero-copy
 * lending the backend reports to the caches (ResidentCache.storageWritten / forgetStorage); false for memory
 * lent by or to the caller (written without notice) and for other backends.
 */
export function residentEligible(t: Tensor): boolean {
  t.assertAlive("residentEligible");
  return t.storage.backend.name === "cpu" && !isBorrowed(t.storage.data as StorageArray);
}

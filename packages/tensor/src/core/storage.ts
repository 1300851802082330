import type { Backend } from "../backend/backend";
import { BYTES_PER_ELEMENT, type DType } from "./dtype";
import { state } from "./state";

/** Counters of live storages and tensors, per backend. */
export interface BackendMemory {
  numTensors: number;
  numStorages: number;
  numBytes: number;
}

export function memoryOf(backend: string): BackendMemory {
  let m = state.liveMemory.get(backend);
  if (!m) {
    m = { numTensors: 0, numStorages: 0, numBytes: 0 };
    state.liveMemory.set(backend, m);
  }
  return m;
}

/**
 * A reference-counted backend buffer. Views (reshape, transpose, slice, ...) share one storage;
 * the buffer is freed when the last tensor handle over it is disposed.
 */
export class Storage {
  private refs = 1;
  constructor(
    readonly backend: Backend,
    readonly data: unknown,
    readonly dtype: DType,
    readonly size: number,
  ) {
    const m = memoryOf(backend.name);
    m.numStorages++;
    m.numBytes += this.bytes;
    if (m.numBytes > (state.peakBytes.get(backend.name) ?? 0)) state.peakBytes.set(backend.name, m.numBytes);
  }

  get bytes(): number {
    return this.backend.storageBytes?.(this.dtype, this.size) ?? this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get alive(): boolean {
    return this.refs > 0;
  }

  /** @internal Live handles over this buffer (each tensor handle and view holds one reference). */
  get refCount(): number {
    return this.refs;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      this.backend.free(this.data);
      const m = memoryOf(this.backend.name);
      m.numStorages--;
      m.numBytes -= this.bytes;
    }
  }
}

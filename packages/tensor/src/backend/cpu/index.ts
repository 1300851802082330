/**
 * The cpu backend: TypeScript kernels over typed arrays. It is the reference every other
 * backend is tested against, and the only one with an honest `readSync`.
 */
import { storageMatches, type DType, type StorageArray } from "../../core/dtype";
import { giveStorage, markBorrowed, takeStorage } from "./pool";
import { residentForget, residentWritten } from "./wasm/loader";
import type { Backend } from "../backend";
import { conv1d } from "./conv";
import { binary, copy, fill, unary, where, write } from "./elementwise";
import { gather, indexSelect, scatterAdd } from "./indexing";
import { matmul, matmulBias } from "./matmul";
import { layerNorm, rmsNorm, softmax } from "./norm";
import { argReduce, cumulative, reduce } from "./reduce";
import { sort, topk } from "./sort";

export function createCpuBackend(): Backend<StorageArray> {
  return {
    name: "cpu",
    canReadSync: true,
    // A float32 x half product reads the half operand as it is (matmul.ts: the half GEMV kernels
    // for decoding; other shapes widen it inside the kernel call instead of as a separate op).
    mixedFloatMatmul: true,
    upload(values: StorageArray, dtype: DType): StorageArray {
      const out = takeStorage(dtype, values.length);
      out.set(values as never);
      return out;
    },
    adopt(values: StorageArray, dtype: DType, borrowed = false): StorageArray {
      if (!storageMatches(dtype, values)) throw new TypeError(`cpu.adopt: ${values.constructor.name} is not ${dtype} storage`);
      if (borrowed) markBorrowed(values); // the caller's memory: never reused by the pool
      return values;
    },
    read: async (data, _dtype, size) => data.slice(0, size),
    readSync: (data, _dtype, size) => data.slice(0, size),
    storageOf: (data) => {
      // Handed out for zero-copy use (toNdarray): the caller may write it, so it is never pooled
      // and never kept resident in WASM memory from now on.
      markBorrowed(data);
      residentForget(data);
      return data;
    },
    free: (data) => {
      residentForget(data); // a resident copy in WASM memory would go stale
      giveStorage(data); // large arrays go back to the pool; accounting happens in Storage
    },
    fill,
    copy,
    write: (dst, src) => {
      residentWritten(dst.data, dst); // resident copies of these elements would go stale
      write(dst, src);
    },
    unary,
    binary,
    where,
    reduce,
    argReduce,
    matmul,
    matmulBias,
    softmax,
    layerNorm,
    rmsNorm,
    gather,
    indexSelect,
    scatterAdd,
    conv1d,
    cumulative,
    sort,
    topk,
  };
}

/**
 * `@tessera/tensor/wasm`: the one WebAssembly runtime the packages share. Loading a module
 * embedded as base64 (a plain and a shared-memory variant; synchronous where allowed, in the
 * background on a browser main thread), memories and their growth, the worker pool
 * (`startWasmPool`: a worker per thread on one shared memory, with stall detection; `kernelPool`:
 * such a pool started in the background at first use and resized by a package's
 * `init...Threads(n)`), and the
 * one budget of weights kept resident in WASM memory between products, over the cpu backend's
 * kernels and every package's (`setWasmWeightBudget`, default 1 GiB). Features are detected at
 * start-up (`wasmFeatures()`: SIMD128, relaxed SIMD, threads); a module with a relaxed-SIMD build
 * (fused multiply-add) loads it where the runtime has relaxed SIMD, else its SIMD128 build
 * (`TESSERA_WASM_RELAXED_SIMD=0` forces the SIMD128 builds).
 *
 *   import { compileWasm, instantiateWasm, growWasmMemory, reserveResident } from "@tessera/tensor/wasm";
 *   const c = compileWasm({ plain: MY_WASM_PLAIN, shared: MY_WASM_SHARED, relaxed: { plain: MY_RELAXED_PLAIN } });  // null: no SIMD here
 *   const { exports, memory } = instantiateWasm<MyExports>(c!);
 *
 * `float32Values(t)` reads a cpu tensor's values for a kernel call without a copy where it can
 * (`float32Blocks(t, r)`: as evenly strided runs, e.g. a key cache with spare capacity). A copy
 * kept in a module's memory across calls must be one of `residentEligible(t)`'s arrays, whose
 * in-place writes, frees and zero-copy lendings the cpu backend reports to every registered
 * ResidentCache (`storageWritten`, `forgetStorage`).
 * The same functions are exported by the main entry; this entry names them as one runtime.
 */
export {
  WASM_PAGE,
  float32Values,
  float32Blocks,
  residentEligible,
  decodeWasm,
  compileWasm,
  instantiateWasm,
  createWasmMemory,
  growWasmMemory,
  defaultWasmThreads,
  canShareWasmMemory,
  startWasmPool,
  kernelPool,
  checkThreadCount,
  registerResidentCache,
  reserveResident,
  residentBytes,
  setWasmWeightBudget,
  wasmWeightBudget,
  wasmFeatures,
  type WasmFeatures,
  type WasmModuleVariants,
  type CompiledWasm,
  type ResidentCache,
  type WrittenView,
  type WasmPoolOptions,
  type KernelPool,
  type WasmPool,
  type WasmModuleLike,
  type WasmMemoryLike,
} from "@tessera/tensor";

// What the timing scripts beside this file share: @tessera/tensor, @tessera/onnx, @tessera/native
// and onnxruntime-node resolved from apps/bench (so a script runs from any directory once `npm run
// build` has run), the median of a list of timings, and the choice of cpu kernels.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), "..", "package.json"));
export const T = await import(require.resolve("@tessera/tensor"));
export const { OnnxGraph } = await import(require.resolve("@tessera/onnx"));
export const ort = require("onnxruntime-node");
export const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
export const native = await import(require.resolve("@tessera/native"));

/**
 * The cpu backend's float32 kernels for a timing script: "native" (@tessera/native, where its
 * addon built: the default) or "wasm"; returns what runs, for the script's header line.
 */
export function useCpuKernels(choice, threads) {
  if (choice !== "wasm" && native.nativeInfo().available) {
    const on = native.enableNative({ threads });
    return `native ${on.isa} x${on.threads} (@tessera/native)`;
  }
  native.disableNative();
  return `WebAssembly (${T.wasmFeatures().relaxedSimd ? "relaxed-SIMD" : "SIMD128"} build)`;
}

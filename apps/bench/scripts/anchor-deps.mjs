// What the timing scripts beside this file share: @tessera/tensor, @tessera/onnx and
// onnxruntime-node resolved from apps/bench (so a script runs from any directory once `npm run
// build` has run), and the median of a list of timings.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), "..", "package.json"));
export const T = await import(require.resolve("@tessera/tensor"));
export const { OnnxGraph } = await import(require.resolve("@tessera/onnx"));
export const ort = require("onnxruntime-node");
export const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

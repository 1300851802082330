import { packageConfig } from "../../tsup.package";

export default packageConfig(
  // `node`, `testing`, `webgpu`, `gpujs` and `wasm` import the main entry by its package name, so they all share one copy.
  { index: "src/index.ts", node: "src/io/node-entry.ts", testing: "src/testing/index.ts", webgpu: "src/webgpu.ts", gpujs: "src/gpujs.ts", wasm: "src/wasm.ts" },
  { external: ["@tessera/tensor", "@tessera/tensor/webgpu", "@tessera/tensor/gpujs"], splitting: false },
);

// Compiles wasm/qgemv.ts (quantized matrix-vector kernels) into src/kernels/wasm/binary.ts.
//   node scripts/build-wasm.mjs          writes the file
//   node scripts/build-wasm.mjs --check  exits 1 if the committed file is stale
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWasm } from "../../../scripts/wasm-build.mjs";

buildWasm({
  pkg: join(dirname(fileURLToPath(import.meta.url)), ".."),
  entry: "wasm/qgemv.ts",
  out: join("src", "kernels", "wasm", "binary.ts"),
  name: "QGEMV_WASM",
  variants: {
    plain: [],
    shared: ["--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
    // the same with relaxed SIMD (vmath's madd4 becomes f32x4.relaxed_madd), loaded where the runtime has it
    relaxed_plain: ["--enable", "relaxed-simd"],
    relaxed_shared: ["--enable", "relaxed-simd", "--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
  },
  sources: "wasm/qgemv.ts",
});

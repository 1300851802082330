// Compiles wasm/index.ts (gemm.ts, rows.ts, vmath.ts) with AssemblyScript (SIMD; a shared-memory
// variant for threads and a plain one, each as SIMD128 and as relaxed SIMD: vmath's madd4 in the
// GEMM and GEMV products becomes f32x4.relaxed_madd) into src/backend/cpu/wasm/binary.ts.
//   node scripts/build-wasm.mjs          writes the file
//   node scripts/build-wasm.mjs --check  exits 1 if the committed file is stale
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWasm } from "../../../scripts/wasm-build.mjs";

buildWasm({
  pkg: join(dirname(fileURLToPath(import.meta.url)), ".."),
  entry: "wasm/index.ts",
  out: join("src", "backend", "cpu", "wasm", "binary.ts"),
  name: "KERNELS_WASM",
  variants: {
    plain: [],
    shared: ["--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
    relaxed_plain: ["--enable", "relaxed-simd"],
    relaxed_shared: ["--enable", "relaxed-simd", "--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
  },
  sources: "wasm/*.ts",
});

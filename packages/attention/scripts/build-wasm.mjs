// Compiles wasm/flash.ts (the fused flash-attention forward and backward; it imports
// @tessera/tensor's wasm/vmath.ts at build time) into src/flash-wasm/binary.ts: a plain and a
// shared-memory variant (threads), each as SIMD128 and as relaxed SIMD (fused multiply-add).
//   node scripts/build-wasm.mjs          writes the file
//   node scripts/build-wasm.mjs --check  exits 1 if the committed file is stale
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWasm } from "../../../scripts/wasm-build.mjs";

buildWasm({
  pkg: join(dirname(fileURLToPath(import.meta.url)), ".."),
  entry: "wasm/flash.ts",
  out: join("src", "flash-wasm", "binary.ts"),
  name: "FLASH_WASM",
  variants: {
    plain: [],
    shared: ["--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
    // the same with relaxed SIMD (vmath's madd4 becomes f32x4.relaxed_madd), loaded where the runtime has it
    relaxed_plain: ["--enable", "relaxed-simd"],
    relaxed_shared: ["--enable", "relaxed-simd", "--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
  },
  sources: "wasm/flash.ts",
});

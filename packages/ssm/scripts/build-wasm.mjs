// Compiles wasm/scan.ts (the selective scan's SIMD loops; it imports @tessera/tensor's
// wasm/vmath.ts at build time) into src/selective/wasm/binary.ts.
//   node scripts/build-wasm.mjs          writes the file
//   node scripts/build-wasm.mjs --check  exits 1 if the committed file is stale
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWasm } from "../../../scripts/wasm-build.mjs";

buildWasm({
  pkg: join(dirname(fileURLToPath(import.meta.url)), ".."),
  entry: "wasm/scan.ts",
  out: join("src", "selective", "wasm", "binary.ts"),
  name: "SCAN_WASM",
  // plain, and the same with relaxed SIMD (vmath's madd4 becomes f32x4.relaxed_madd), loaded where the runtime has it
  // shared: the same over a shared memory, for the worker pool (threads split the channels)
  variants: {
    plain: [],
    shared: ["--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
    relaxed_plain: ["--enable", "relaxed-simd"],
    relaxed_shared: ["--enable", "relaxed-simd", "--sharedMemory", "--enable", "threads", "--maximumMemory", "32768"],
  },
  sources: "wasm/scan.ts",
});

// What one core can do at most, against what the anchors get: the ceilings behind issue 17's
// speed targets. Compiles wasm/roofline.ts (AssemblyScript, SIMD128; and with relaxed SIMD where
// the runtime has it) and prints, medians of 7 runs:
//   - the GEMM register tile's peak on data in L1 (GFLOP/s per core; packages/tensor/wasm/gemm.ts),
//     as SIMD128 (a mul and an add) and as relaxed SIMD (one fused multiply-add), beside Tessera's
//     and onnxruntime-node's matmul 1024 on 1 thread and on all threads;
//   - one core's read bandwidth from memory in one stream and in four interleaved streams, beside
//     the bytes per second of Tessera's packed GEMV and onnxruntime-node's MatMul on a
//     [1, 768] x [768, 50257] product (GPT-2's LM head, 154 MB of weights) on 1 thread.
//   node apps/bench/scripts/cpu-roofline.mjs     (after the build: npm run build)
//   node --experimental-wasm-relaxed-simd apps/bench/scripts/cpu-roofline.mjs   (Node 20: relaxed SIMD too)
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { med, OnnxGraph, ort, T } from "./anchor-deps.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const time = async (f, runs = 7) => {
  await f();
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return med(ts);
};

// --- the micro-kernels ---------------------------------------------------------------------
/** wasm/roofline.ts compiled with `extra` asc flags. */
function compile(extra) {
  const tmp = mkdtempSync(join(tmpdir(), "tessera-roofline-"));
  try {
    const flags = ["-O3", "--enable", "simd", ...extra, "--runtime", "stub", "--importMemory", "--noAssert", "--memoryBase", "0"];
    execFileSync(join(root, "packages", "tensor", "node_modules", ".bin", "asc"), [join(here, "..", "wasm", "roofline.ts"), ...flags, "-o", join(tmp, "k.wasm")]);
    return readFileSync(join(tmp, "k.wasm"));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
const wasm = compile([]);
const relaxedWasm = T.wasmFeatures().relaxedSimdSupported ? compile(["--enable", "relaxed-simd"]) : null;
const READ_BYTES = 768 * 50257 * 4;
const memory = new WebAssembly.Memory({ initial: Math.ceil((READ_BYTES + (1 << 20)) / 65536) });
const k = (await WebAssembly.instantiate(wasm, { env: { memory, abort() {} } })).instance.exports;
new Float32Array(memory.buffer).fill(0.001);
const KC = 256;
const REPS = 20000;
const tileMs = await time(() => k.tile_4x8(4096, 65536, 1024, KC, REPS));
const tileGflops = (64 * KC * REPS) / tileMs / 1e6;
let relaxedTileGflops = null;
if (relaxedWasm) {
  const kr = (await WebAssembly.instantiate(relaxedWasm, { env: { memory, abort() {} } })).instance.exports;
  relaxedTileGflops = (64 * KC * REPS) / (await time(() => kr.tile_4x8(4096, 65536, 1024, KC, REPS))) / 1e6;
}
const read1 = READ_BYTES / (await time(() => k.read_1(1 << 20, READ_BYTES))) / 1e6;
const read4 = READ_BYTES / (await time(() => k.read_4(1 << 20, READ_BYTES))) / 1e6;

// --- matmul 1024 and the LM-head GEMV: Tessera and onnxruntime-node -------------------------
function ortMatMul(M, K, N, threads) {
  const g = new OnnxGraph("roofline");
  g.input("a", "float32", [M, K]);
  g.input("b", "float32", [K, N]);
  g.node("MatMul", ["a", "b"], {}, { outputs: ["c"] });
  g.output("c", "float32", [M, N]);
  return ort.InferenceSession.create(g.toModel({ opset: 17 }), { intraOpNumThreads: threads, logSeverityLevel: 3 });
}
const rows = [];
const threadCounts = [1, Math.min(cpus().length, 8)];
for (const threads of threadCounts) {
  await T.initCpuThreads(threads);
  for (const [name, M, K, N] of [
    ["matmul 1024", 1024, 1024, 1024],
    ["LM head GEMV [1,768]x[768,50257]", 1, 768, 50257],
  ]) {
    const a = T.normal([M, K], 0, 1, { seed: 1 });
    const w = T.normal([N, K], 0, 0.02, { seed: 2 }); // nn.Linear layout: the weight kept resident and packed
    T.tidy(() => T.linear(a, w)); // first sighting
    T.tidy(() => T.linear(a, w)); // second: resident and packed from now on
    const tess = await time(() => T.tidy(() => T.linear(a, w).dataSync()));
    const sess = await ortMatMul(M, K, N, threads);
    const feeds = { a: new ort.Tensor("float32", a.dataSync(), [M, K]), b: new ort.Tensor("float32", T.transpose(w).dataSync(), [K, N]) };
    const onnx = await time(() => sess.run(feeds));
    await sess.release();
    T.dispose([a, w]);
    const flops = 2 * M * K * N;
    const bytes = K * N * 4;
    rows.push({ name, threads, tess, onnx, flops, bytes });
  }
}

console.log(`cpu: ${cpus()[0].model}, ${cpus().length} logical cores; Node ${process.version}`);
console.log(`WASM SIMD128 4x8 GEMM tile in L1, one core: ${tileGflops.toFixed(1)} GFLOP/s (its ceiling: 8 multiplies + 8 adds per 64 flops, no FMA)`);
console.log(
  relaxedTileGflops === null
    ? "relaxed SIMD: not in this runtime (Node 20: node --experimental-wasm-relaxed-simd)"
    : `relaxed-SIMD 4x8 GEMM tile in L1, one core: ${relaxedTileGflops.toFixed(1)} GFLOP/s (8 fused multiply-adds per 64 flops)`,
);
console.log(`Tessera's products below ran its ${T.wasmFeatures().relaxedSimd ? "relaxed-SIMD" : "SIMD128"} build`);
console.log(`one core reading memory: ${read1.toFixed(1)} GB/s in one stream, ${read4.toFixed(1)} GB/s in four`);
for (const r of rows) {
  const gem = r.name.startsWith("matmul");
  const fmt = (ms) => (gem ? `${(r.flops / ms / 1e6).toFixed(1)} GFLOP/s` : `${(r.bytes / ms / 1e6).toFixed(1)} GB/s of weights`);
  console.log(
    `${r.name}, ${r.threads} thread(s): tessera ${r.tess.toFixed(2)} ms (${fmt(r.tess)}), onnxruntime-node ${r.onnx.toFixed(2)} ms (${fmt(r.onnx)}), tessera / ort ${(r.tess / r.onnx).toFixed(2)}x`,
  );
}
process.exit(0);

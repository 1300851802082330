// The matrix products of a GPT-2 124M prefill of 128 tokens, one shape at a time: what bounds
// prefill speed on the cpu. Per shape ([128 x K] x [K x N], weights in nn.Linear layout, resident
// and packed from their second use, with bias except the tied LM head): Tessera's linear against
// onnxruntime-node's MatMul + Add (the weight an initializer) on the same threads, medians of 9
// runs, GFLOP/s, and the twelve layers' total.
//   node --experimental-wasm-relaxed-simd apps/bench/scripts/prefill-products.mjs [threads] [tokens] [native|wasm]   (after npm run build)
import { med, OnnxGraph, ort, T, useCpuKernels } from "./anchor-deps.mjs";

const threads = Number(process.argv[2] ?? 2);
const M = Number(process.argv[3] ?? 128);
await T.initCpuThreads(threads);
const kernels = useCpuKernels(process.argv[4] ?? "native", threads);
const time = async (f) => {
  for (let i = 0; i < 3; i++) await f();
  const ts = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return med(ts);
};

// [K, N, per model, bias]: c_attn, attn c_proj, mlp c_fc, mlp c_proj (x 12 layers), the LM head
const SHAPES = [
  [768, 2304, 12, true],
  [768, 768, 12, true],
  [768, 3072, 12, true],
  [3072, 768, 12, true],
  [768, 50257, 1, false],
];
console.log(`cpu: ${threads} thread(s), ${M} tokens; Tessera's products: ${kernels}; medians of 9 runs`);
let totalT = 0;
let totalO = 0;
for (const [K, N, count, withBias] of SHAPES) {
  const w = T.normal([N, K], 0, 0.02, { seed: N + K });
  const b = withBias ? T.normal([N], 0, 0.02, { seed: N }) : null;
  const x = T.normal([M, K], 0, 1, { seed: 1 });
  const tess = await time(() => T.tidy(() => T.linear(x, w, b).dataSync()));
  const g = new OnnxGraph("prefill-product");
  g.input("x", "float32", [M, K]);
  g.initializer("w", "float32", [K, N], T.contiguous(T.transpose(w)).dataSync());
  g.node("MatMul", ["x", "w"], {}, { outputs: [withBias ? "m" : "y"] });
  if (withBias) {
    g.initializer("b", "float32", [N], b.dataSync());
    g.node("Add", ["m", "b"], {}, { outputs: ["y"] });
  }
  g.output("y", "float32", [M, N]);
  const sess = await ort.InferenceSession.create(g.toModel({ opset: 17 }), { intraOpNumThreads: threads, logSeverityLevel: 3 });
  const feeds = { x: new ort.Tensor("float32", x.dataSync(), [M, K]) };
  const onnx = await time(() => sess.run(feeds));
  await sess.release();
  T.dispose([w, b, x].filter(Boolean));
  const gf = (ms) => ((2 * M * K * N) / ms / 1e6).toFixed(1);
  totalT += count * tess;
  totalO += count * onnx;
  console.log(
    `[${M}x${K}] x [${K}x${N}]${count > 1 ? ` (x${count})` : ""}: tessera ${tess.toFixed(2)} ms (${gf(tess)} GFLOP/s), onnxruntime-node ${onnx.toFixed(2)} ms (${gf(onnx)} GFLOP/s), tessera / ort ${(tess / onnx).toFixed(2)}x`,
  );
}
console.log(`a prefill's products: tessera ${totalT.toFixed(1)} ms, onnxruntime-node ${totalO.toFixed(1)} ms, tessera / ort ${(totalT / totalO).toFixed(2)}x`);
process.exit(0);

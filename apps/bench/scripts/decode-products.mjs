// The matrix-vector products of one GPT-2 124M decode step, alone: what bounds decode speed on
// the cpu. Twelve layers' worth of distinct [768 x 2304], [768 x 768], [768 x 3072] and
// [3072 x 768] weights with biases (as nn.Linear: resident and packed from their second use),
// then the tied LM head [768 x 50257]: Tessera's GEMVs one after another, against the same
// products as one onnxruntime-node graph (MatMul + Add per weight; weights as initializers), on
// the same threads. Prints medians of 15 runs and the bytes of weights read per second.
//   node --experimental-wasm-relaxed-simd apps/bench/scripts/decode-products.mjs [threads] [native|wasm]   (after npm run build)
import { med, OnnxGraph, ort, T, useCpuKernels } from "./anchor-deps.mjs";

const threads = Number(process.argv[2] ?? 2);
await T.initCpuThreads(threads);
const kernels = useCpuKernels(process.argv[3] ?? "native", threads);

// [K, N] of each layer's products: c_attn, attn c_proj, mlp c_fc, mlp c_proj
const SHAPES = [
  [768, 2304],
  [768, 768],
  [768, 3072],
  [3072, 768],
];
const LAYERS = 12;
const weights = [];
for (let l = 0; l < LAYERS; l++)
  for (const [K, N] of SHAPES) weights.push({ K, N, w: T.normal([N, K], 0, 0.02, { seed: 100 * l + N }), b: T.normal([N], 0, 0.02, { seed: 100 * l + N + 1 }) });
const lmHead = T.normal([50257, 768], 0, 0.02, { seed: 7 });
const x = { 768: T.normal([1, 768], 0, 1, { seed: 1 }), 3072: T.normal([1, 3072], 0, 1, { seed: 2 }) };
const bytes = (withHead) => weights.reduce((s, { K, N }) => s + 4 * K * N, 0) + (withHead ? 4 * lmHead.size : 0);

const tessera = (withHead) => {
  for (const { K, w, b } of weights) T.tidy(() => T.linear(x[K], w, b).dataSync());
  if (withHead) T.tidy(() => T.linear(x[768], lmHead).dataSync());
};
for (let i = 0; i < 3; i++) tessera(true); // resident and packed from the second use

async function ortSession(withHead) {
  const g = new OnnxGraph("decode-products");
  g.input("x768", "float32", [1, 768]);
  g.input("x3072", "float32", [1, 3072]);
  weights.forEach(({ K, N, w, b }, i) => {
    g.initializer(`w${i}`, "float32", [K, N], T.contiguous(T.transpose(w)).dataSync());
    g.initializer(`b${i}`, "float32", [N], b.dataSync());
    g.node("MatMul", [`x${K}`, `w${i}`], {}, { outputs: [`m${i}`] });
    g.node("Add", [`m${i}`, `b${i}`], {}, { outputs: [`y${i}`] });
    g.output(`y${i}`, "float32", [1, N]);
  });
  if (withHead) {
    g.initializer("head", "float32", [768, 50257], T.contiguous(T.transpose(lmHead)).dataSync());
    g.node("MatMul", ["x768", "head"], {}, { outputs: ["logits"] });
    g.output("logits", "float32", [1, 50257]);
  }
  return ort.InferenceSession.create(g.toModel({ opset: 17 }), { intraOpNumThreads: threads, logSeverityLevel: 3 });
}

console.log(`cpu: ${threads} thread(s); Tessera's products: ${kernels}; medians of 15 runs`);
for (const withHead of [false, true]) {
  const label = withHead ? "48 layer products + LM head" : "48 layer products";
  const tt = [];
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    tessera(withHead);
    tt.push(performance.now() - t0);
  }
  const sess = await ortSession(withHead);
  const feeds = { x768: new ort.Tensor("float32", x[768].dataSync(), [1, 768]), x3072: new ort.Tensor("float32", x[3072].dataSync(), [1, 3072]) };
  for (let i = 0; i < 3; i++) await sess.run(feeds);
  const to = [];
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    await sess.run(feeds);
    to.push(performance.now() - t0);
  }
  await sess.release();
  const [a, b] = [med(tt), med(to)];
  const mb = bytes(withHead) / 1e6;
  console.log(
    `${label} (${mb.toFixed(0)} MB): tessera ${a.toFixed(2)} ms (${(mb / a).toFixed(1)} GB/s), onnxruntime-node ${b.toFixed(2)} ms (${(mb / b).toFixed(1)} GB/s), tessera / ort ${(a / b).toFixed(2)}x`,
  );
}
process.exit(0);

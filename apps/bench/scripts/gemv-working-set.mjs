// How fast one [1, 768] x [768 x 2304] product streams its weight as the weights cycled through
// grow past what the cache keeps: copies of the weight are used in turn (8 copies: 57 MB ... 64:
// 453 MB), Tessera's linear (resident, packed) against onnxruntime-node's MatMul (one graph of
// the copies) on the same threads; per product, medians of 7 runs. A GPT-2 124M decode step
// cycles through 494 MB of weights.
//   node --experimental-wasm-relaxed-simd apps/bench/scripts/gemv-working-set.mjs [threads]   (after npm run build)
import { med, OnnxGraph, ort, T } from "./anchor-deps.mjs";

const threads = Number(process.argv[2] ?? 1);
await T.initCpuThreads(threads);
const [K, N] = [768, 2304];
const bytes = K * N * 4;
console.log(`cpu: ${threads} thread(s); [1 x ${K}] x [${K} x ${N}] (${(bytes / 1e6).toFixed(1)} MB) products cycling through copies; medians of 7 runs`);
for (const copies of [8, 16, 40, 64]) {
  const ws = Array.from({ length: copies }, (_, i) => T.normal([N, K], 0, 0.02, { seed: i }));
  const x = T.normal([1, K], 0, 1, { seed: 999 });
  const reps = Math.max(2, Math.round(1e9 / (bytes * copies)));
  const pass = () => {
    for (const w of ws) T.tidy(() => T.linear(x, w).dataSync());
  };
  for (let i = 0; i < 3; i++) pass(); // resident and packed from the second use
  const tt = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) pass();
    tt.push((performance.now() - t0) / reps / copies);
  }
  const g = new OnnxGraph("gemv-working-set");
  g.input("x", "float32", [1, K]);
  ws.forEach((w, i) => {
    g.initializer(`w${i}`, "float32", [K, N], T.contiguous(T.transpose(w)).dataSync());
    g.node("MatMul", ["x", `w${i}`], {}, { outputs: [`y${i}`] });
    g.output(`y${i}`, "float32", [1, N]);
  });
  const sess = await ort.InferenceSession.create(g.toModel({ opset: 17 }), { intraOpNumThreads: threads, logSeverityLevel: 3 });
  const feeds = { x: new ort.Tensor("float32", x.dataSync(), [1, K]) };
  for (let i = 0; i < 3; i++) await sess.run(feeds);
  const to = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    await sess.run(feeds);
    to.push((performance.now() - t0) / copies);
  }
  await sess.release();
  T.dispose([...ws, x]);
  const [a, b] = [med(tt), med(to)];
  const gbs = (ms) => (bytes / ms / 1e6).toFixed(1);
  console.log(
    `${copies} copies (${((bytes * copies) / 1e6).toFixed(0)} MB): tessera ${(a * 1000).toFixed(0)} us (${gbs(a)} GB/s), onnxruntime-node ${(b * 1000).toFixed(0)} us (${gbs(b)} GB/s), tessera / ort ${(a / b).toFixed(2)}x`,
  );
}
process.exit(0);

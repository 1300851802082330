import * as T from "./dist/index.js";
await T.initCpuThreads?.();
const med = (f, n = 61) => { const ts = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); const y = f(); ts.push(performance.now() - t0); y.dispose(); } ts.sort((a, b) => a - b); return ts[n >> 1]; };
for (const [N, K] of [[4096, 4096], [3072, 768]]) {
  const x = T.normal([1, K], 0, 1, { seed: 1 });
  const w = T.normal([N, K], 0, 0.02, { seed: 2 });
  const h = T.cast(w, "float16"), b = T.cast(w, "bfloat16");
  for (let rep = 0; rep < 2; rep++) { const r = [med(() => T.linear(x, w)), med(() => T.linear(x, h)), med(() => T.linear(x, b))];
  console.log(`${N}x${K}`, "f32", r[0].toFixed(2), "f16", r[1].toFixed(2), "bf16", r[2].toFixed(2), "ms"); }
}

// Relaxed SIMD against the SIMD128 fallback for the fused WASM flash attention, A/B on a noisy
// machine: child processes alternate (relaxed, fallback, relaxed, ...), each started with
// --experimental-wasm-relaxed-simd (Node 20), the fallback with TESSERA_WASM_RELAXED_SIMD=0;
// each times causal attention (B=1, H=8, Dh=64) forward and forward + backward at every T.
// Prints per T the median over all rounds of each build and the ratio of the medians.
//   node apps/bench/scripts/relaxed-simd-ab.mjs [rounds=3] [T...=512 1024 2048 4096]
// (after building: npx -y pnpm@10.34.9 exec turbo run build --filter=@tessera/bench...)
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const FLAG = "--experimental-wasm-relaxed-simd";

if (process.argv[2] === "--child") {
  const T = await import("@tessera/tensor");
  const { wasmFeatures } = await import("@tessera/tensor/wasm");
  const { initAttentionThreads, scaledDotProductAttention: sdpa } = await import("@tessera/attention");
  await initAttentionThreads();
  const res = { relaxed: wasmFeatures().relaxedSimd, rows: [] };
  for (const n of process.argv.slice(3).map(Number)) {
    const [q, k, v, dy] = [1, 2, 3, 4].map((seed) => T.normal([1, 8, n, 64], 0, 1, { seed }));
    const o = { causal: true, implementation: "tiled" };
    const fwd = () => T.tidy(() => sdpa(q, k, v, o).dataSync());
    const both = () => T.tidy(() => T.grad((a, b, c) => T.sum(T.mul(sdpa(a, b, c, o), dy)))(q, k, v).forEach((g) => g.dataSync()));
    const time = (f, reps) => {
      f(); // warm-up
      const ts = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        f();
        ts.push(performance.now() - t0);
      }
      return ts;
    };
    const reps = n >= 4096 ? 2 : n >= 2048 ? 3 : 5;
    res.rows.push({ T: n, fwd: time(fwd, reps), both: time(both, Math.max(1, reps - 1)) });
  }
  console.log(JSON.stringify(res));
} else {
  const rounds = Number(process.argv[2] ?? 3);
  const Ts = process.argv.length > 3 ? process.argv.slice(3) : ["512", "1024", "2048", "4096"];
  const all = { relaxed: {}, fallback: {} };
  for (let r = 0; r < rounds; r++) {
    for (const build of ["relaxed", "fallback"]) {
      const env = { ...process.env, TESSERA_WASM_RELAXED_SIMD: build === "relaxed" ? "1" : "0" };
      const out = JSON.parse(execFileSync(process.execPath, [FLAG, fileURLToPath(import.meta.url), "--child", ...Ts], { env, encoding: "utf8" }));
      if (out.relaxed !== (build === "relaxed")) throw new Error(`the ${build} run loaded the ${out.relaxed ? "relaxed" : "SIMD128"} build`);
      for (const row of out.rows) for (const kind of ["fwd", "both"]) (all[build][`${row.T}/${kind}`] ??= []).push(...row[kind]);
      process.stderr.write(`round ${r + 1}/${rounds} ${build} done\n`);
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  console.log("| causal, B=1 H=8 Dh=64 | relaxed SIMD, ms | SIMD128, ms | SIMD128 / relaxed |\n| --- | --- | --- | --- |");
  for (const key of Object.keys(all.relaxed)) {
    const [n, kind] = key.split("/");
    const a = median(all.relaxed[key]);
    const b = median(all.fallback[key]);
    console.log(
      `| T = ${n} ${kind === "fwd" ? "forward" : "forward + backward"} | ${a.toFixed(1)} (${all.relaxed[key].length} runs) | ${b.toFixed(1)} (${all.fallback[key].length}) | ${(b / a).toFixed(2)}x |`,
    );
  }
}

/**
 * The bench app works end to end on small shapes: every suite runs every implementation, the
 * rows have the documented fields, and every anchor's output agrees with Tessera's. (Speed is
 * measured by `pnpm bench`, never asserted here.)
 */
import { describe, expect, it, vi } from "vitest";
import { probeTestBackend } from "@tessera/tensor/testing";
import { parseArgs, runBench, tierOf } from "../src/cli";
import { nativeInfo } from "@tessera/native";
import { TIERS, type Row, type Tier } from "../src/harness";
import { formatTable, formatWall, progressLine } from "../src/report";
import { SUITES } from "../src/suites/index";
import { DISPATCH_CASE } from "../src/suites/ops-dispatch";

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)

const PROGRESS = /^\[(\d+)\/(\d+)\] (\S+) (.+) \.\.\. (\d+(?:\.\d+)? ms|failed: .*)$/;
const plan = (tier: Tier, backend = "cpu") => SUITES.flatMap((s) => s.plan({ tier, backend }).map((p) => ({ suite: s.name, ...p })));

describe("tessera-bench", () => {
  it("runs every suite side by side in quick mode", async () => {
    const lines: string[] = [];
    const warn = vi.spyOn(console, "warn");
    const suiteEnds: string[] = [];
    const rows = await runBench({ suites: [], backend: "cpu", quick: true }, (l) => lines.push(l), { onSuite: (s, got) => suiteEnds.push(`${s.name}:${got.length}`) });
    // tfjs's "Hi, looks like you are running TensorFlow.js in Node.js" banner is silenced.
    expect(warn.mock.calls.flat().join(" ")).not.toMatch(/TensorFlow\.js in Node\.js/);
    warn.mockRestore();
    // One progress line per row, as it finished: [i/N] with N known up front and equal to the rows made.
    const progress = lines.filter((l) => l.startsWith("["));
    expect(progress.length).toBe(rows.length);
    progress.forEach((l, i) => {
      const m = PROGRESS.exec(l);
      expect(m, l).not.toBeNull();
      expect([Number(m![1]), Number(m![2]), m![3]]).toEqual([i + 1, rows.length, rows[i].suite]);
      expect(l).toContain(` ${rows[i].case} ${rows[i].impl} ... `);
    });
    // Each suite's plan names exactly the rows it produced, in order.
    expect(rows.map((r) => ({ suite: r.suite, case: r.case, impl: r.impl }))).toEqual(plan("quick"));
    expect(suiteEnds).toEqual(SUITES.map((s) => `${s.name}:${rows.filter((r) => r.suite === s.name).length}`));
    // The cpu backend runs @tessera/native's kernels where the addon built (CI: always), with a "tessera wasm" matmul row beside them.
    expect(lines.find((l) => l.startsWith("cpu backend:"))).toMatch(nativeInfo().available ? /@tessera\/native/ : /WASM SIMD kernels/);
    if (nativeInfo().available) expect(rows.filter((r) => r.impl === "tessera wasm").map((r) => r.suite)).toEqual(["matmul", "matmul"]);
    const impls = new Set(rows.map((r) => r.impl));
    for (const i of ["onnxruntime-node", "plain-js", "tessera", "tessera tiled", "tfjs-cpu", "tfjs-wasm", "sigmoid (tiled)"]) expect(impls.has(i)).toBe(true);
    for (const r of rows) {
      expect(r.note ?? "").not.toMatch(/failed|above/);
      expect(r.median_ms).toBeGreaterThan(0);
      expect(r.min_ms).toBeLessThanOrEqual(r.median_ms);
      expect(r.runs).toBeGreaterThan(0);
      if (r.suite === "matmul") expect(r.gflops).toBeGreaterThan(0);
      if (r.suite === "ops" && r.case !== DISPATCH_CASE) expect(r.gbps).toBeGreaterThan(0);
    }
    // Per-op dispatch overhead: every library's chain of tiny adds, cross-checked (notes above).
    expect(rows.filter((r) => r.case === DISPATCH_CASE).map((r) => r.impl)).toEqual(["tessera", "onnxruntime-node", "tfjs-wasm", "plain-js"]);
    expect(new Set(rows.map((r) => r.suite))).toEqual(new Set(["matmul", "ops", "attention", "ssm", "quantize", "codebook", "models"]));
    const cb = rows.filter((r) => r.suite === "codebook");
    expect(cb.some((r) => r.case.startsWith("search") && r.impl === "tfjs-wasm")).toBe(true);
    expect(cb.some((r) => r.impl === "tessera vqLinear")).toBe(true);
    const quant8 = rows.filter((r) => r.suite === "quantize");
    expect(new Set(quant8.map((r) => r.impl))).toEqual(new Set(["tessera", "onnxruntime-node", "tessera int8 per channel", "tessera int4 g64", "tessera nf4 b64 dq"]));
    for (const r of quant8) expect(r.gbps).toBeGreaterThan(0);
    const models = rows.filter((r) => r.suite === "models");
    for (const c of ["gpt2-tiny prefill T=16", "gpt2-tiny decode @16", "llama-tiny decode @16", "mamba-tiny prefill T=16"])
      expect(models.some((r) => r.case === c && r.impl === "tessera")).toBe(true);
    // GPT-2 in onnxruntime-node computes the same logits (prefill and a cached decode step).
    const ort = models.filter((r) => r.impl === "onnxruntime-node");
    expect(ort.length).toBe(2);
    for (const r of ort) expect(r.note).toMatch(/max \|diff\| vs tessera/);
    // Weight-only quantized decoding of the attention models, with the logits' error against float32.
    const quant = models.filter((r) => r.case.endsWith("quantized") && r.impl.startsWith("tessera"));
    expect(new Set(quant.map((r) => r.impl))).toEqual(new Set(["tessera int8", "tessera int4 g64", "tessera nf4 b64 dq"]));
    for (const r of quant) expect(r.note).toMatch(/logits rel. RMS error vs float32 0\.\d+/);
    // The int8 and int4 models also decode in onnxruntime-node (MatMulNBits), agreeing with Tessera's quantized logits.
    const ortQuant = models.filter((r) => r.case.endsWith("quantized") && r.impl.startsWith("onnxruntime-node"));
    expect(ortQuant.map((r) => `${r.case} / ${r.impl}`).sort()).toEqual(
      ["gpt2-tiny", "llama-tiny"].flatMap((m) => [`${m} decode @16 quantized / onnxruntime-node int4 g64`, `${m} decode @16 quantized / onnxruntime-node int8`]).sort(),
    );
    for (const r of ortQuant) expect(r.note).toMatch(/max \|diff\| vs tessera/);
    // Half-precision block weights (castModel): float16 and bfloat16 rows, the error small.
    const half = models.filter((r) => r.case.endsWith("half weights"));
    expect(new Set(half.map((r) => r.impl))).toEqual(new Set(["tessera float16", "tessera bfloat16"]));
    for (const r of half) expect(r.note).toMatch(/logits rel. RMS error vs float32 0\.0\d+/);
    const ssm = rows.filter((r) => r.suite === "ssm");
    for (const i of ["selective scan (fused)", "mamba mixer", "mamba2 mixer", "retention layer", "gla layer", "attention (tiled)"])
      expect(ssm.some((r) => r.impl === i)).toBe(true);
    for (const r of ssm) expect(r.peak_bytes).toBeGreaterThan(0);
    expect(SUITES.find((s) => s.name === "ssm")!.summarize!(rows)).toMatch(/growth[\s\S]*mamba mixer/);
    const att = rows.filter((r) => r.suite === "attention" && r.impl.startsWith("tessera"));
    for (const r of att) expect(r.peak_bytes).toBeGreaterThan(0);
    expect(formatTable(rows)).toContain("speed vs tessera");
  });

  it.skipIf(!webgpu.available)("measures the webgpu backend (SwiftShader here) against the same anchors", async () => {
    const rows = await runBench({ suites: ["matmul"], backend: "webgpu", quick: true }, () => undefined);
    const t = rows.filter((r) => r.impl === "tessera");
    expect(t.map((r) => r.backend)).toEqual(["webgpu", "webgpu"]);
    for (const r of rows) expect(r.note ?? "").not.toMatch(/failed|above/);
  });

  it("parses options and rejects unknown suites", () => {
    expect(parseArgs(["matmul", "--json", "out.json", "--quick"])).toMatchObject({ suites: ["matmul"], json: "out.json", quick: true });
    expect(tierOf(parseArgs([]))).toBe("default");
    expect(tierOf(parseArgs(["--quick"]))).toBe("quick");
    expect(tierOf(parseArgs(["ssm", "--full"]))).toBe("full");
    expect(() => parseArgs(["--quick", "--full"])).toThrow("--quick and --full exclude each other");
    expect(() => parseArgs(["nope"])).toThrow("unknown suite 'nope' (suites: matmul, ops, attention, ssm, quantize, codebook, models, tasks)");
    expect(() => parseArgs(["--json"])).toThrow("--json needs a value");
    expect(parseArgs(["tasks", "--pretrain", "none,masked"])).toMatchObject({ suites: ["tasks"], pretrain: ["none", "masked"] });
    expect(() => parseArgs(["tasks", "--pretrain", "none,bert"])).toThrow("--pretrain: unknown column 'bert' (columns: none, causal, masked)");
    expect(parseArgs(["matmul", "--cpu-kernels", "wasm"])).toMatchObject({ suites: ["matmul"], cpuKernels: "wasm" });
    expect(() => parseArgs(["--cpu-kernels", "gpu"])).toThrow("--cpu-kernels: expected native or wasm, got 'gpu'");
  });

  it("plans every suite in every tier; the default grid is smaller than --full and leaves out its largest cases", () => {
    for (const tier of TIERS) for (const s of SUITES) expect(s.plan({ tier, backend: "cpu" }).length, `${s.name} ${tier}`).toBeGreaterThan(0);
    const [def, full] = [plan("default"), plan("full")];
    // Implementations of --full's, per suite (the pure-JS anchors and model formats at fewer sizes or none).
    const key = (r: { suite: string; impl: string }) => `${r.suite} / ${r.impl}`;
    const fullImpls = new Set(full.map(key));
    for (const r of def) expect(fullImpls.has(key(r)), key(r)).toBe(true);
    expect(def.length).toBeLessThan(0.6 * full.length);
    // --full is today's whole grid: attention to T = 8192, the ssm layers to 64k, ops on 256 MiB, K = 64k codes.
    expect(full.filter((r) => r.suite === "attention" && r.case === "causal T=8192").length).toBe(10);
    expect(full.some((r) => r.suite === "ssm" && r.case === "T=65536")).toBe(true);
    expect(full.some((r) => r.suite === "ops" && r.case === "softmax [64,1024,1024]" && r.impl === "tfjs-cpu")).toBe(true);
    expect(full.some((r) => r.suite === "codebook" && r.case === "search N=1024 K=65536 d=256" && r.impl === "tfjs-cpu")).toBe(true);
    expect(full.filter((r) => r.suite === "models" && r.impl.startsWith("tessera ")).length).toBe(10);
    // The default run: no T = 8192; at T = 4096 only the tiled (fused) form and onnxruntime (the materialized
    // reference forms take GiBs and minutes there), still every anchor side by side.
    expect(def.some((r) => r.suite === "attention" && /T=8192/.test(r.case))).toBe(false);
    expect(def.filter((r) => r.suite === "attention" && r.case === "causal T=4096").map((r) => r.impl)).toEqual(["tessera tiled", "onnxruntime-node"]);
    expect(def.some((r) => r.suite === "ssm" && r.impl === "attention (tiled)" && Number(r.case.slice(2)) > 2048)).toBe(false);
    for (const impl of ["onnxruntime-node", "tfjs-wasm", "tfjs-cpu", "plain-js"])
      expect(
        def.some((r) => r.impl === impl),
        impl,
      ).toBe(true);
    expect(new Set(def.map((r) => r.suite))).toEqual(new Set(SUITES.map((s) => s.name)));
  });

  it("formats progress lines and wall times", () => {
    const row: Row = { suite: "attention", case: "T=2048", impl: "tessera tiled", backend: "cpu", median_ms: 902.4, min_ms: 880, max_ms: 950, runs: 3 };
    expect(progressLine(12, 48, row)).toBe("[12/48] attention T=2048 tessera tiled ... 902 ms");
    expect(progressLine(3, 48, { ...row, median_ms: 0.472 })).toBe("[3/48] attention T=2048 tessera tiled ... 0.47 ms");
    expect(progressLine(4, 48, { ...row, median_ms: NaN, runs: 0, note: "failed: out of memory" })).toBe("[4/48] attention T=2048 tessera tiled ... failed: out of memory");
    for (const l of [progressLine(12, 48, row), progressLine(4, 48, { ...row, median_ms: NaN, runs: 0, note: "failed: x" })]) expect(l).toMatch(PROGRESS);
    expect(formatWall(42_049)).toBe("42.0 s");
    expect(formatWall(283_600)).toBe("4m 44s");
    expect(formatWall(119_700)).toBe("2m 00s");
    expect(formatTable([row], { legend: false })).not.toContain("speed vs tessera =");
  });
});

/**
 * The bench app works end to end on small shapes: every suite runs every implementation, the
 * rows have the documented fields, and every anchor's output agrees with Tessera's. (Speed is
 * measured by `pnpm bench`, never asserted here.)
 */
import { describe, expect, it } from "vitest";
import { parseArgs, runBench } from "../src/cli";
import { formatTable } from "../src/report";
import { SUITES } from "../src/suites/index";

describe("tessera-bench", () => {
  it("runs every suite side by side in quick mode", async () => {
    const rows = await runBench({ suites: [], backend: "cpu", quick: true }, () => undefined);
    const impls = new Set(rows.map((r) => r.impl));
    for (const i of ["onnxruntime-node", "plain-js", "tessera", "tessera tiled", "tfjs-cpu", "tfjs-wasm", "sigmoid (tiled)"]) expect(impls.has(i)).toBe(true);
    for (const r of rows) {
      expect(r.note ?? "").not.toMatch(/failed|above/);
      expect(r.median_ms).toBeGreaterThan(0);
      expect(r.min_ms).toBeLessThanOrEqual(r.median_ms);
      expect(r.runs).toBeGreaterThan(0);
      if (r.suite === "matmul") expect(r.gflops).toBeGreaterThan(0);
      if (r.suite === "ops") expect(r.gbps).toBeGreaterThan(0);
    }
    expect(new Set(rows.map((r) => r.suite))).toEqual(new Set(["matmul", "ops", "attention", "ssm", "quantize", "codebook", "models"]));
    const cb = rows.filter((r) => r.suite === "codebook");
    expect(cb.some((r) => r.case.startsWith("search") && r.impl === "tfjs-wasm")).toBe(true);
    expect(cb.some((r) => r.impl === "tessera vqLinear")).toBe(true);
    const quant8 = rows.filter((r) => r.suite === "quantize");
    expect(new Set(quant8.map((r) => r.impl))).toEqual(new Set(["tessera", "onnxruntime-node", "tessera int8 per channel", "tessera int4 g64", "tessera nf4 b64 dq"]));
    for (const r of quant8) expect(r.gbps).toBeGreaterThan(0);
    const models = rows.filter((r) => r.suite === "models");
    for (const c of ["gpt2-tiny prefill T=16", "gpt2-tiny decode @16", "llama-tiny decode @16", "mamba-tiny prefill T=16"]) expect(models.some((r) => r.case === c && r.impl === "tessera")).toBe(true);
    // GPT-2 in onnxruntime-node computes the same logits (prefill and a cached decode step).
    const ort = models.filter((r) => r.impl === "onnxruntime-node");
    expect(ort.length).toBe(2);
    for (const r of ort) expect(r.note).toMatch(/max \|diff\| vs tessera/);
    // Weight-only quantized decoding of the attention models, with the logits' error against float32.
    const quant = models.filter((r) => r.case.endsWith("quantized"));
    expect(new Set(quant.map((r) => r.impl))).toEqual(new Set(["tessera int8", "tessera int4 g64", "tessera nf4 b64 dq"]));
    for (const r of quant) expect(r.note).toMatch(/logits rel. RMS error vs float32 0\.\d+/);
    // Half-precision block weights (castModel): float16 and bfloat16 rows, the error small.
    const half = models.filter((r) => r.case.endsWith("half weights"));
    expect(new Set(half.map((r) => r.impl))).toEqual(new Set(["tessera float16", "tessera bfloat16"]));
    for (const r of half) expect(r.note).toMatch(/logits rel. RMS error vs float32 0\.0\d+/);
    const ssm = rows.filter((r) => r.suite === "ssm");
    for (const i of ["selective scan (fused)", "mamba mixer", "mamba2 mixer", "retention layer", "gla layer", "attention (tiled)"]) expect(ssm.some((r) => r.impl === i)).toBe(true);
    for (const r of ssm) expect(r.peak_bytes).toBeGreaterThan(0);
    expect(SUITES.find((s) => s.name === "ssm")!.summarize!(rows)).toMatch(/growth[\s\S]*mamba mixer/);
    const att = rows.filter((r) => r.suite === "attention" && r.impl.startsWith("tessera"));
    for (const r of att) expect(r.peak_bytes).toBeGreaterThan(0);
    expect(formatTable(rows)).toContain("speed vs tessera");
  });

  it("measures the webgpu backend (SwiftShader here) against the same anchors", async () => {
    const rows = await runBench({ suites: ["matmul"], backend: "webgpu", quick: true }, () => undefined);
    const t = rows.filter((r) => r.impl === "tessera");
    expect(t.map((r) => r.backend)).toEqual(["webgpu", "webgpu"]);
    for (const r of rows) expect(r.note ?? "").not.toMatch(/failed|above/);
  });

  it("parses options and rejects unknown suites", () => {
    expect(parseArgs(["matmul", "--json", "out.json", "--quick"])).toMatchObject({ suites: ["matmul"], json: "out.json", quick: true });
    expect(() => parseArgs(["nope"])).toThrow("unknown suite 'nope' (suites: matmul, ops, attention, ssm, quantize, codebook, models)");
    expect(() => parseArgs(["--json"])).toThrow("--json needs a value");
  });
});

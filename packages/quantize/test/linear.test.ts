/**
 * Quantized linear layers: the fused WebAssembly kernels and their TypeScript reference against
 * x @ dequantize(W)^T (float64 sums; within 1e-5 relative to the output scale), for int8, int4
 * (symmetric and asymmetric), NF4 and FP4 (with double quantization), per channel and per group;
 * formats without a fused kernel fall back to dequantize + GEMM; errors. The kernels have a
 * SIMD128 and a relaxed-SIMD build (fused multiply-adds, the same bounds): this file runs with the
 * one the runtime has, and again under --experimental-wasm-relaxed-simd (linear-relaxed.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as Q from "../src/index";
import { qgemvWasm } from "../src/kernels/wasm/runtime";

it("the fused kernels load their relaxed-SIMD build exactly where wasmFeatures().relaxedSimd, else the SIMD128 build", () => {
  // linear-relaxed.test.ts reruns this file under --experimental-wasm-relaxed-simd with TESSERA_EXPECT_RELAXED_SIMD=1
  const expected = process.env.TESSERA_EXPECT_RELAXED_SIMD;
  if (expected !== undefined) expect(T.wasmFeatures().relaxedSimd).toBe(expected === "1");
  expect(qgemvWasm()!.relaxed).toBe(T.wasmFeatures().relaxedSimd);
});

/** x @ dequantize(W)^T + b in float64 from the dequantized values. */
function oracle(x: T.Tensor, q: Q.QuantizedTensor, b: T.Tensor | null): Float64Array {
  const [N, K] = q.shape;
  const w = q.values();
  const xv = x.dataSync();
  const bv = b?.dataSync();
  const M = xv.length / K;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += xv[m * K + k] * w[n * K + k];
      out[m * N + n] = s + (bv ? bv[n] : 0);
    }
  return out;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const FORMATS: [Q.QuantFormat, boolean][] = [
  [{ type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }, true],
  [{ type: "int", bits: 8, symmetric: true, granularity: { kind: "group", size: 32 } }, true],
  [{ type: "int", bits: 8, symmetric: true, granularity: { kind: "tensor" } }, true],
  [{ type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 32 } }, true],
  [{ type: "int", bits: 4, symmetric: false, granularity: { kind: "group", size: 16 } }, true],
  [{ type: "int", bits: 4, symmetric: false, granularity: { kind: "channel", axis: 0 } }, true],
  [{ type: "nf4", blockSize: 64, doubleQuant: false }, true],
  [{ type: "nf4", blockSize: 64, doubleQuant: true }, true],
  [{ type: "fp4", blockSize: 32, doubleQuant: false }, true],
  [{ type: "int", bits: 8, symmetric: false, granularity: { kind: "channel", axis: 0 } }, false],
  [{ type: "int", bits: 3, symmetric: true, granularity: { kind: "group", size: 32 } }, false],
  [{ type: "ternary", granularity: { kind: "channel", axis: 0 } }, false],
  [{ type: "fp8", variant: "e4m3", granularity: { kind: "channel", axis: 0 } }, false],
];

let threads = 1;
beforeAll(async () => {
  threads = await Q.initQuantizedThreads();
});

describe("quantizedLinear", () => {
  const W = T.normal([72, 128], 0, 0.5, { seed: 1 });
  const b = T.normal([72], 0, 1, { seed: 2 });
  for (const [f, fused] of FORMATS) {
    it(`${Q.describe(f)}: ${fused ? "fused kernel (WASM and reference)" : "dequantize + GEMM"} = x @ dequantize(W)^T + b`, async () => {
      const q = Q.quantize(W, f);
      const w = new Q.QuantizedLinearWeight(q);
      expect(w.fused).toBe(fused);
      for (const rows of [
        [1, 128],
        [3, 128],
        [2, 5, 128],
      ]) {
        const x = T.normal(rows, 0, 1, { seed: rows.length + rows[0] });
        const want = oracle(x, q, b);
        const tol = { atol: 1e-5 * maxAbs(want), rtol: 1e-5 };
        const y = Q.quantizedLinear(x, w, b);
        expect(y.shape).toEqual([...rows.slice(0, -1), 72]);
        await assertClose(y, T.reshape(T.tensor(Float32Array.from(want)), y.shape), { ...tol, label: `wasm ${rows}` });
        T.setKernelPreference("reference");
        // The fused kernel's TypeScript loops, and the composed reference (dequantize + GEMM).
        await assertClose(Q.quantizedLinear(x, w, b, { implementation: "fused" }), T.reshape(T.tensor(Float32Array.from(want)), y.shape), { ...tol, label: `loops ${rows}` });
        await assertClose(Q.quantizedLinear(x, w, b), T.reshape(T.tensor(Float32Array.from(want)), y.shape), { ...tol, label: `reference ${rows}` });
        T.setKernelPreference("fast");
      }
    });
  }

  it("resident quantized weights count toward @tessera/tensor's one WASM weight budget", async () => {
    const { setWasmWeightBudget, wasmWeightBudget } = await import("@tessera/tensor/wasm");
    setWasmWeightBudget(1 << 30);
    const w = new Q.QuantizedLinearWeight(
      Q.quantize(T.normal([64, 256], 0, 1, { seed: 20 }), { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }),
    );
    const before = wasmWeightBudget().bytes;
    Q.quantizedLinear(T.normal([1, 256], 0, 1, { seed: 21 }), w);
    expect(wasmWeightBudget().bytes).toBeGreaterThanOrEqual(before + 64 * 256); // the int8 codes stay resident
    setWasmWeightBudget(0); // drops every cache, the cpu backend's included
    expect(wasmWeightBudget()).toEqual({ bytes: 0, budget: 0 });
    setWasmWeightBudget(1 << 30);
  });

  it("the kernels keep many weights resident and stay right when the budget forces refills", async () => {
    const ws = [0, 1, 2, 3].map((i) => new Q.QuantizedLinearWeight(Q.quantize(T.normal([64, 256], 0, 1, { seed: 10 + i }), { type: "nf4", blockSize: 64, doubleQuant: false })));
    Q.setQuantizedWeightBudget(20000); // about two weights
    const x = T.normal([1, 256], 0, 1, { seed: 3 });
    for (let round = 0; round < 3; round++) {
      for (const w of ws) {
        const want = oracle(x, w.q, null);
        await assertClose(Q.quantizedLinear(x, w), T.reshape(T.tensor(Float32Array.from(want)), [1, 64]), { atol: 1e-5 * maxAbs(want), rtol: 1e-5 });
      }
    }
    Q.setQuantizedWeightBudget(1 << 30);
  });

  it("large products split rows over worker threads: results equal the one-thread TypeScript reference", async () => {
    expect(threads).toBeGreaterThanOrEqual(1);
    const Wbig = T.normal([1024, 1024], 0, 0.05, { seed: 7 });
    const x = T.normal([2, 1024], 0, 1, { seed: 8 });
    for (const f of [FORMATS[0][0], FORMATS[3][0], FORMATS[6][0]]) {
      const w = new Q.QuantizedLinearWeight(Q.quantize(Wbig, f));
      const fast = Q.quantizedLinear(x, w);
      T.setKernelPreference("reference");
      const ref = Q.quantizedLinear(x, w, null, { implementation: "fused" });
      T.setKernelPreference("fast");
      await assertClose(fast, ref, { atol: 1e-5 * maxAbs(ref.dataSync()), rtol: 1e-5, label: Q.describe(f) });
      // Prefill past CPU_FUSED_MAX_ROWS: the threaded WASM dequantization equals the TypeScript one exactly.
      const x8 = T.normal([Q.CPU_FUSED_MAX_ROWS + 8, 1024], 0, 1, { seed: 9 });
      const pre = Q.quantizedLinear(x8, w);
      await assertClose(
        pre,
        T.withKernelPreference("reference", () => Q.quantizedLinear(x8, w)),
        { atol: 1e-5 * maxAbs(pre.dataSync()), rtol: 1e-5 },
      );
    }
  });

  it("the cpu fuses up to CPU_FUSED_MAX_ROWS rows (no float32 copy of the weight) and dequantizes + GEMMs past them; both equal the oracle", async () => {
    expect(Q.CPU_FUSED_MAX_ROWS).toBeGreaterThanOrEqual(Q.FUSED_MAX_ROWS);
    const [N, K] = [96, 256];
    const W = T.normal([N, K], 0, 0.5, { seed: 30 });
    for (const [f] of FORMATS.filter(([, fused]) => fused)) {
      const w = new Q.QuantizedLinearWeight(Q.quantize(W, f));
      Q.quantizedLinear(T.normal([1, K], 0, 1, { seed: 1 }), w).dispose(); // resident from here on
      for (const rows of [Q.FUSED_MAX_ROWS + 1, Q.CPU_FUSED_MAX_ROWS, Q.CPU_FUSED_MAX_ROWS + 1]) {
        const x = T.normal([rows, K], 0, 1, { seed: rows });
        const want = oracle(x, w.q, null);
        T.resetPeakMemory();
        T.resetKernelStats();
        const base = T.memory().backends.cpu?.numBytes ?? 0;
        const y = Q.quantizedLinear(x, w);
        const peak = (T.memory().backends.cpu?.peakBytes ?? 0) - base;
        // kernelStats: the kernel counted only where it ran; handed on to dequantize + GEMM, neither
        expect(T.kernelStats().kernel[`${Q.QUANTIZED_LINEAR}/cpu`], `${rows} rows`).toBe(rows <= Q.CPU_FUSED_MAX_ROWS ? 1 : undefined);
        expect(T.kernelStats().reference[`${Q.QUANTIZED_LINEAR}/cpu`]).toBeUndefined();
        // The dequantize path holds the float32 weight [N, K]; the fused one only y [rows, N].
        if (rows <= Q.CPU_FUSED_MAX_ROWS) expect(peak, `${Q.describe(f)} ${rows} rows`).toBeLessThan(N * K * 4);
        else expect(peak, `${Q.describe(f)} ${rows} rows`).toBeGreaterThanOrEqual(N * K * 4);
        const expected = T.tensor(Float32Array.from(want), { shape: [rows, N] });
        await assertClose(y, expected, { atol: 1e-5 * maxAbs(want), rtol: 1e-5, label: `${Q.describe(f)} ${rows} rows` });
        T.dispose([x, y, expected]);
        expect(T.memory().backends.cpu?.numBytes, "the adopted float32 weight is freed with the call").toBe(base - rows * K * 4);
      }
    }
  });

  it("errors: wrong feature count, non-matrix weights", () => {
    const w = new Q.QuantizedLinearWeight(Q.quantize(T.normal([8, 32], 0, 1, { seed: 1 }), { type: "nf4", blockSize: 32, doubleQuant: false }));
    expect(() => Q.quantizedLinear(T.zeros([1, 31]), w)).toThrow(/quantizedLinear: x \[1,31\] has 31 features; the weight \[8, 32\] expects 32/);
    expect(() => new Q.QuantizedLinearWeight(Q.quantize(T.normal([2, 4, 8], 0, 1, { seed: 1 }), { type: "nf4", blockSize: 8, doubleQuant: false }))).toThrow(
      /a linear weight must be \[out, in\], got \[2,4,8\]/,
    );
  });
});

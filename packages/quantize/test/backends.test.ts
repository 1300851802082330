/**
 * The quantized linear kernels on the webgpu backend (SwiftShader in CI): gemv (decode) and
 * dequantize + GEMM (prefill) against x @ dequantize(W)^T computed on the cpu, for int8, int4
 * (symmetric and asymmetric), NF4 and FP4; the GPU copies are freed by dispose().
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, probeTestBackend } from "@tessera/tensor/testing";
import * as Q from "../src/index";
import "../src/webgpu"; // registers the WGSL kernels (what `import "@tessera/quantize/webgpu"` does)

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)

describe.skipIf(!webgpu.available)("quantized linear on webgpu", () => {
  const formats: Q.QuantFormat[] = [
    { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } },
    { type: "int", bits: 8, symmetric: true, granularity: { kind: "group", size: 32 } },
    { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 32 } },
    { type: "int", bits: 4, symmetric: false, granularity: { kind: "group", size: 16 } },
    { type: "nf4", blockSize: 64, doubleQuant: true },
    { type: "fp4", blockSize: 32, doubleQuant: false },
  ];
  const W = T.normal([72, 128], 0, 0.5, { seed: 1 });
  const b = T.normal([72], 0, 1, { seed: 2 });

  for (const f of formats) {
    it(`${Q.describe(f)}: decode and prefill equal the cpu oracle`, async () => {
      const q = Q.quantize(W, f);
      const w = new Q.QuantizedLinearWeight(q);
      expect(w.fused).toBe(true);
      for (const rows of [
        [1, 128],
        [3, 128],
        [2, 5, 128],
      ]) {
        const x = T.normal(rows, 0, 1, { seed: rows[0] + rows.length });
        const want = T.linear(x, q.dequantize(), b); // cpu
        T.resetKernelStats();
        const y = Q.quantizedLinear(T.toBackend(x, "webgpu"), w, T.toBackend(b, "webgpu"));
        expect(y.backend).toBe("webgpu");
        expect(T.kernelStats().kernel[`${Q.QUANTIZED_LINEAR}/webgpu`]).toBe(1); // the registered WGSL kernel ran
        const scale = Math.max(...Array.from(want.dataSync(), Math.abs));
        await assertClose(y, want, { atol: 2e-5 * scale, rtol: 1e-5, label: `${rows}` });
      }
      const before = T.memory().numTensors;
      w.dispose();
      expect(T.memory().numTensors).toBe(before - 4);
    });
  }

  it("int8 x int8 -> int32 on webgpu equals the cpu exactly", async () => {
    const a = T.cast(T.randint(-127, 128, [5, 70], { seed: 1, dtype: "int32" }), "int8");
    const b = T.cast(T.randint(-127, 128, [33, 70], { seed: 2, dtype: "int32" }), "int8");
    const want = Array.from(Q.int8MatmulTensor(a, b).dataSync());
    const got = Q.int8MatmulTensor(T.toBackend(a, "webgpu"), T.toBackend(b, "webgpu"));
    expect(got.dtype).toBe("int32");
    expect(Array.from(await got.data())).toEqual(want);
    expect(() => Q.int8MatmulTensor(T.zeros([2, 3]), b)).toThrow(/operands must be int8/);
  });
});

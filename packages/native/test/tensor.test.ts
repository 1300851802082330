/**
 * The native GEMM behind the cpu backend: Tessera's whole conformance suite (every op, matmul,
 * linear and their gradients included) on cpu with the native kernel registered, against the
 * reference preference's plain loops; dispatch of the layouts the models use; kernelStats;
 * memory flat in loops and after errors; disabling it.
 */
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disableNative, enableNative } from "../src/index";
import { info } from "./helpers";

// Tessera's one conformance suite lives in @tessera/tensor's tests (it is not published): loaded
// by path, so that this package's typecheck does not compile tensor's sources.
const runner = new URL("../../tensor/test/conformance/runner.ts", import.meta.url).href;
const { conformanceSuite } = (await import(runner)) as { conformanceSuite: (backend: string, opts?: { skip?: boolean }) => void };

describe.skipIf(!info.available)("cpu backend with the native GEMM", () => {
  beforeAll(() => {
    enableNative({ threads: 2 });
    T.resetKernelStats();
  });
  afterAll(() => disableNative());

  conformanceSuite("cpu", { skip: !info.available });

  it("the suite's products ran natively (kernelStats counts cpuGemm/cpu)", () => {
    expect(T.kernelStats().kernel["cpuGemm/cpu"] ?? 0).toBeGreaterThan(0);
  });

  it("every layout a model uses agrees with the reference loops", async () => {
    const x = T.normal([2, 24, 40], 0, 1, { seed: 1 }); // [B, T, D]
    const w = T.normal([40, 70], 0, 1, { seed: 2 }); // Conv1D weight [in, out]
    const lin = T.normal([70, 40], 0, 1, { seed: 3 }); // nn.Linear weight [out, in]
    const bias = T.normal([70], 0, 1, { seed: 4 });
    const q = T.normal([2, 3, 32, 32], 0, 1, { seed: 5 }); // [B, H, T, Dh]
    const one = T.normal([1, 40], 0, 1, { seed: 6 }); // a decode step's row
    const cases = (): T.Tensor[] => [
      T.matmul(x, w), // batch folded into rows, B row-major
      T.linear(x, lin, bias), // B = W^T read in place, bias in the epilogue
      T.matmul(q, T.transpose(q, -1, -2)), // per-entry B (attention scores)
      T.matmul(T.transpose(x, -1, -2), T.slice(x, [null, null, [0, 24]])), // transposed A, gathered
      T.matmul(x, T.slice(T.normal([40, 140], 0, 1, { seed: 7 }), [null, [0, 140, 2]])), // strided B: gathered
      T.linear(one, lin, bias), // GEMV, W^T
      T.matmul(one, w), // GEMV, row-major
      T.affine(T.reshape(x, [48, 40]), w, bias),
    ];
    T.resetKernelStats();
    const fast = T.tidy(cases);
    expect(T.kernelStats().kernel["cpuGemm/cpu"]).toBeGreaterThanOrEqual(fast.length);
    const ref = T.withKernelPreference("reference", () => T.tidy(cases));
    for (let i = 0; i < fast.length; i++) await assertClose(fast[i], ref[i], { atol: 1e-5, rtol: 1e-5, label: `case ${i}` });
    T.dispose([fast, ref, x, w, lin, bias, q, one]);
  });
});

describe.skipIf(!info.available)("native GEMM: memory and switching off", () => {
  it("memory() stays flat over a loop of products and after a failed one", () => {
    enableNative();
    const w = T.normal([64, 96], 0, 1, { seed: 1 });
    const x = T.normal([16, 64], 0, 1, { seed: 2 });
    T.tidy(() => T.matmul(x, w)); // warm-up: pools and scratch
    const before = T.memory();
    for (let i = 0; i < 50; i++) T.tidy(() => void T.sum(T.gelu(T.matmul(x, w))));
    expect(() => T.tidy(() => T.matmul(x, T.normal([65, 96], 0, 1, { seed: 3 })))).toThrow(/matmul/);
    const after = T.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    T.dispose([w, x]);
    disableNative();
  });

  it("disableNative puts the cpu back on its WebAssembly GEMM", () => {
    enableNative();
    const x = T.normal([32, 64], 0, 1, { seed: 4 });
    T.resetKernelStats();
    T.dispose(T.matmul(x, T.transpose(x)));
    expect(T.kernelStats().kernel["cpuGemm/cpu"]).toBe(1);
    disableNative();
    T.resetKernelStats();
    T.dispose(T.matmul(x, T.transpose(x)));
    expect(T.kernelStats().kernel["cpuGemm/cpu"]).toBeUndefined();
    expect(T.listKernels().cpuGemm ?? []).toEqual([]);
    T.dispose(x);
  });
});

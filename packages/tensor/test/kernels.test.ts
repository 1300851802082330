/**
 * The kernel registry and the global kernel preference.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as T from "../src/index";

afterEach(() => {
  T.setKernelPreference("fast");
  T.unregisterKernel("test.double", "cpu");
  T.resetKernelStats();
});

describe("kernel registry", () => {
  it("a registered kernel is found by name and backend; a missing one is undefined and counted as a reference call", () => {
    const double = (x: number) => 2 * x;
    T.registerKernel("test.double", "cpu", double);
    expect(T.getKernel<typeof double>("test.double", "cpu")?.(3)).toBe(6);
    expect(T.getKernel("test.double", "webgpu")).toBeUndefined();
    expect(T.hasKernel("test.double", "cpu")).toBe(true);
    expect(T.listKernels()["test.double"]).toEqual(["cpu"]);
    expect(T.kernelBackends("test.double")).toEqual(["cpu"]);
    expect(T.kernelStats()).toEqual({ kernel: { "test.double/cpu": 1 }, reference: { "test.double/webgpu": 1 } });
    T.getKernel("test.double", "cpu", { count: false });
    expect(T.kernelStats().kernel["test.double/cpu"]).toBe(1);
  });

  it("the 'reference' preference hides kernels unless a call asks for one, and turns the cpu SIMD kernels off", () => {
    T.registerKernel("test.double", "cpu", (x: number) => 2 * x);
    expect(T.setKernelPreference("reference")).toBe("fast");
    expect(T.getKernel("test.double", "cpu")).toBeUndefined();
    expect(T.getKernel("test.double", "cpu", { ignorePreference: true })).toBeDefined();
    expect(T.cpuSimdAvailable()).toBe(false);
    expect(T.withKernelPreference("fast", () => T.getKernelPreference())).toBe("fast");
    expect(T.getKernelPreference()).toBe("reference");
    expect(() => T.setKernelPreference("loops" as never)).toThrow(/setKernelPreference: expected 'fast' or 'reference'/);
  });

  it("setCpuSimd is a deprecated alias of setKernelPreference", () => {
    expect(T.setCpuSimd(false)).toBe(true);
    expect(T.getKernelPreference()).toBe("reference");
    expect(T.setCpuSimd(true)).toBe(false);
    expect(T.getKernelPreference()).toBe("fast");
  });
});

describe("op lists defined once", () => {
  it("every unary op has a conformance case, and gpu.js's native / fallback sets cover UNARY_OPS", async () => {
    const { CASES, UNARY_OWN_CASE } = await import("./conformance/cases");
    const names = new Set(CASES.map((c) => c.name));
    for (const op of T.UNARY_OPS) expect(names.has(`unary ${op}`) || names.has(UNARY_OWN_CASE[op]), op).toBe(true);
    const { UNARY_EXPR } = await import("../src/backend/gpujs/kernels");
    for (const op of Object.keys(UNARY_EXPR)) expect(T.UNARY_OPS).toContain(op);
  });
});

/**
 * The conformance suite on the gpujs backend in gpu.js's webasm mode (what CI can run: no GPU),
 * plus what the backend reports about itself.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../../src/index";

/** The live counters (peaks may rise inside a loop and still leave nothing behind). */
const live = (m: T.MemoryInfo) => ({ numTensors: m.numTensors, numStorages: m.numStorages, numBytes: m.numBytes });
import type { GpuJsBackend } from "../../src/gpujs";
import { useTestBackend } from "../../src/testing";
import { conformanceSuite } from "./runner";

beforeAll(async () => {
  await useTestBackend("gpujs");
});

conformanceSuite("gpujs");

describe("gpujs backend", () => {
  it("runs in webasm mode and reports native kernels and visible fallbacks", async () => {
    const be = (await T.ready("gpujs")) as GpuJsBackend;
    expect(be.info.mode).toBe("webasm");
    const x = T.normal([4, 8], 0, 1, { seed: 1, backend: "gpujs" });
    T.matmul(x, T.transpose(x));
    T.cumsum(x, 1);
    const s = be.stats();
    expect(s.native.matmul).toBeGreaterThan(0);
    expect(s.fallback.cumulative).toBeGreaterThan(0);
    expect(be.info.fallbackKernels).toContain("cumulative");
  });

  it("a loop of 1000 ops leaves memory() flat", () => {
    const x = T.normal([8, 8], 0, 1, { seed: 2, backend: "gpujs" });
    const before = T.memory();
    for (let i = 0; i < 250; i++) {
      T.tidy(() => {
        T.sum(T.softmax(T.add(T.matmul(x, x), 1)));
      });
    }
    expect(live(T.memory())).toEqual(live(before));
  });
});

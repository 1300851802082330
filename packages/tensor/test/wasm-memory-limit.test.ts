/**
 * When a product or row op needs more WebAssembly memory than can be had (memory.grow refused:
 * WebAssembly caps shared memory at 2 GiB), the cpu backend says so once and runs its TypeScript
 * kernels instead: same results, no "Maximum memory size exceeded" crash. Simulated by refusing
 * growth in a fresh process, where the kernels' memory starts small.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { wasmKernels } from "../src/backend/cpu/wasm/runtime";

describe("WASM memory exhausted", () => {
  const k = wasmKernels()!;
  const memory = k.memory as WebAssembly.Memory & { grow: (n: number) => number };
  const realGrow = memory.grow.bind(memory);
  afterAll(() => {
    delete (memory as { grow?: unknown }).grow;
  });

  it("matmul, softmax, layerNorm, rmsNorm and gelu fall back to the TypeScript kernels with a warning", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const before = memory.buffer.byteLength;
    Object.defineProperty(memory, "grow", {
      configurable: true,
      value: () => {
        throw new RangeError("WebAssembly.Memory.grow(): Maximum memory size exceeded");
      },
    });
    const a = T.normal([192, 160], 0, 1, { seed: 1 });
    const b = T.normal([160, 224], 0, 1, { seed: 2 });
    const x = T.normal([64, 1024], 0, 1, { seed: 3 });
    const w = T.normal([1024], 0, 1, { seed: 4 });
    const got = [T.matmul(a, b), T.softmax(x, -1), T.layerNorm(x, w, w), T.rmsNorm(x, w), T.gelu(x)];
    expect(memory.buffer.byteLength).toBe(before); // nothing grew
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /^\[tessera\] cpu: \d+ bytes of WASM memory needed, \d+ available and growth refused \(WebAssembly\.Memory\.grow\(\): Maximum memory size exceeded\); this op and larger ones run the TypeScript kernels/,
    );
    // The same ops with growth allowed (the WASM SIMD kernels) give the same values.
    Object.defineProperty(memory, "grow", { configurable: true, value: realGrow });
    const want = [T.matmul(a, b), T.softmax(x, -1), T.layerNorm(x, w, w), T.rmsNorm(x, w), T.gelu(x)];
    expect(memory.buffer.byteLength).toBeGreaterThan(before);
    for (let i = 0; i < got.length; i++) await assertClose(got[i], want[i], { atol: 1e-4, rtol: 1e-4, label: `op ${i}` });
    warn.mockRestore();
  });
});

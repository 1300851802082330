/**
 * The conformance suite on the webgpu backend (SwiftShader in CI): every case against cpu.
 * It never skips: when WebGPU cannot start, the suite fails with the reason.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../../src/index";

/** The live counters (peaks may rise inside a loop and still leave nothing behind). */
const live = (m: T.MemoryInfo) => ({ numTensors: m.numTensors, numStorages: m.numStorages, numBytes: m.numBytes });
import { conformanceSuite } from "./runner";
import { setupWebGPU } from "./setup-webgpu";
import { GpuContext } from "../../src/backend/webgpu/context";

beforeAll(async () => {
  await setupWebGPU();
}, 60_000);

conformanceSuite("webgpu");

describe("webgpu backend", () => {
  it("reports its adapter and limits", async () => {
    const be = (await T.ready("webgpu")) as T.Backend & { info: { features: string[]; limits: Record<string, number> } };
    expect(be.name).toBe("webgpu");
    expect(be.canReadSync).toBe(false);
    expect(be.info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it("dataSync is refused with a clear error; data() works", async () => {
    const x = T.ones([3], { backend: "webgpu" });
    expect(() => x.dataSync()).toThrow("dataSync: backend 'webgpu' reads asynchronously: use await tensor.data()");
    expect([...(await x.data())]).toEqual([1, 1, 1]);
  });

  it("an out-of-range index is reported at the next read", async () => {
    const x = T.ones([3, 2], { backend: "webgpu" });
    const y = T.indexSelect(x, 0, T.tensor([0, 7], { dtype: "int32", backend: "webgpu" }));
    await expect(y.data()).rejects.toThrow("indexSelect: an index is out of range (detected on the GPU)");
    expect([...(await T.ones([2], { backend: "webgpu" }).data())]).toEqual([1, 1]); // the flag was cleared
  });

  it("moving tensors between backends", async () => {
    const c = T.tensor([[1, 2], [3, 4]]);
    const g = T.toBackend(c, "webgpu");
    expect(g.backend).toBe("webgpu");
    const back = await T.toBackendAsync(T.mul(g, 2), "cpu");
    expect(back.arraySync()).toEqual([[2, 4], [6, 8]]);
    expect(() => T.add(c, g)).toThrow("add: tensors live on different backends ('cpu' and 'webgpu'); move one with toBackend()");
  });

  it("a loop of 1000 GPU ops (250 x matmul, add, softmax, sum) leaves memory() flat", async () => {
    const x = T.normal([16, 16], 0, 1, { seed: 1, backend: "webgpu" });
    await x.data();
    const before = T.memory();
    for (let i = 0; i < 250; i++) {
      T.tidy(() => {
        T.sum(T.softmax(T.add(T.matmul(x, x), 1)));
      });
    }
    const s = T.sum(x); // a read flushes the queue
    await s.data();
    s.dispose();
    expect(live(T.memory())).toEqual(live(before));
  });
});

describe("webgpu errors are never silent", () => {
  it("a tensor beyond the device's binding limit is refused up front", async () => {
    const be = (await T.ready("webgpu")) as T.Backend & { info: { limits: Record<string, number> } };
    const words = be.info.limits.maxStorageBufferBindingSize / 4 + 1;
    expect(() => T.zeros([words], { backend: "webgpu" })).toThrow(/exceeds this device's maxStorageBufferBindingSize/);
  });

  it("a command the device rejects makes the next read throw (then recovers)", async () => {
    const { create, globals } = await import("webgpu");
    Object.assign(globalThis, globals);
    const gpu = create([]);
    const device = await (await gpu.requestAdapter())!.requestDevice();
    const ctx = new GpuContext(device);
    const out = ctx.alloc(4);
    ctx.dispatch("this is not WGSL", [out.buffer], 1);
    await expect(ctx.read(out, 4)).rejects.toThrow(/webgpu: a GPU command failed, so results since the last read are invalid/);
    await expect(ctx.read(out, 4)).resolves.toBeInstanceOf(ArrayBuffer);
    device.destroy();
    void gpu;
  });
});

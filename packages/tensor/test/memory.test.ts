import { describe, expect, it } from "vitest";
import * as T from "../src/index";

/** The live counters (peaks may rise inside a loop and still leave nothing behind). */
const live = (m: T.MemoryInfo) => ({ numTensors: m.numTensors, numStorages: m.numStorages, numBytes: m.numBytes });

describe("explicit memory", () => {
  it("tidy frees intermediates and keeps what it returns", () => {
    const before = T.memory();
    const y = T.tidy(() => {
      const a = T.ones([100]);
      const b = T.mul(a, 2);
      return T.add(b, 1);
    });
    const after = T.memory();
    expect(after.numTensors).toBe(before.numTensors + 1);
    expect(after.numBytes).toBe(before.numBytes + 400);
    y.dispose();
    expect(T.memory().numBytes).toBe(before.numBytes);
  });

  it("views share storage: bytes are counted once and freed with the last handle", () => {
    const before = T.memory();
    const x = T.zeros([10, 10]);
    const v = T.transpose(x);
    const r = T.reshape(x, [100]);
    expect(T.memory().numStorages).toBe(before.numStorages + 1);
    expect(T.memory().numBytes).toBe(before.numBytes + 400);
    x.dispose();
    expect(v.dataSync().length).toBe(100); // still alive through the view
    v.dispose();
    r.dispose();
    expect(T.memory().numBytes).toBe(before.numBytes);
    expect(T.memory().numTensors).toBe(before.numTensors);
  });

  it("keep survives tidy; dispose accepts nested structures", () => {
    let kept!: T.Tensor;
    T.tidy(() => {
      kept = T.keep(T.ones([3]));
      T.ones([3]);
    });
    expect(kept.isDisposed).toBe(false);
    const before = T.memory().numTensors;
    const obj = { a: T.ones([2]), b: [T.zeros([1])], c: new Map([["x", T.ones([1])]]) };
    T.dispose([kept, obj]);
    expect(T.memory().numTensors).toBe(before - 1); // kept and the three made after `before`
  });

  it("using a disposed tensor is a clear error", () => {
    const x = T.ones([2, 3]);
    x.dispose();
    expect(() => T.add(x, 1)).toThrow("add: tensor [2,3] float32 was used after dispose()");
    expect(() => x.dataSync()).toThrow(/used after dispose/);
  });

  it("a training loop (forward, backward, update) does not grow memory()", () => {
    const lin = new T.Linear(8, 4, { seed: 1 });
    const opt = new T.AdamW(lin.namedParameters(), { lr: 1e-2 });
    const x = T.normal([16, 8], 0, 1, { seed: 2 });
    const target = T.normal([16, 4], 0, 1, { seed: 3 });
    const step = () => {
      const { value, grads } = T.gradients(() => T.mseLoss(lin.forward(x), target), lin.namedParameters());
      opt.step(grads);
      T.dispose([value, grads]);
    };
    step(); // optimizer state is created on the first step
    const before = T.memory();
    for (let i = 0; i < 200; i++) step();
    const after = T.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(after.numStorages).toBe(before.numStorages);
  });

  it("a loop of 1000 ops inside tidy leaves memory() flat", () => {
    const x = T.normal([32, 32], 0, 1, { seed: 4 });
    const before = T.memory();
    for (let i = 0; i < 1000; i++) {
      T.tidy(() => {
        T.softmax(T.matmul(T.gelu(x), T.transpose(x))); // result dropped: tidy frees it too
      });
    }
    expect(live(T.memory())).toEqual(live(before));
  });
});

describe("peak memory", () => {
  it("records the highest live bytes since resetPeakMemory()", () => {
    T.resetPeakMemory();
    const base = T.memory().numBytes;
    T.tidy(() => {
      T.sum(T.ones([1000])); // 4000 bytes live at the peak, plus the 4-byte sum
    });
    const m = T.memory();
    expect(m.numBytes).toBe(base);
    expect(m.backends.cpu.peakBytes).toBe(base + 4004);
    expect(m.peakBytes).toBeGreaterThanOrEqual(base + 4004);
  });
});

describe("cpu storage pool", () => {
  it("reuses freed large arrays, never borrowed ones, and can be capped or emptied", async () => {
    T.trimCpuPool();
    const a = T.ones([1 << 16]); // 256 KiB: pooled when freed
    const buf = a.storage.data as Float32Array;
    a.dispose();
    expect(T.cpuPoolStats().pooledArrays).toBe(1);
    const b = T.mul(T.ones([1 << 16]), 2); // reuses the freed array for one of its outputs
    expect(b.dataSync().every((v) => v === 2)).toBe(true); // fully written despite reuse
    const ndarray = (await import("ndarray")).default;
    const user = new Float32Array(1 << 16);
    const v = T.fromNdarray(ndarray(user, [1 << 16]));
    v.dispose();
    expect(T.cpuPoolStats().pooledArrays).toBeLessThanOrEqual(2);
    const again = T.zeros([1 << 16]);
    expect(again.storage.data).not.toBe(user); // borrowed memory is never handed out
    void buf;
    T.setCpuPoolLimit(0);
    expect(T.cpuPoolStats().pooledBytes).toBe(0);
    T.setCpuPoolLimit(512 * 1024 * 1024);
  });

  it("a full pool drops its least recently used sizes to take a new one", () => {
    T.setCpuPoolLimit(1 << 20); // 1 MiB: four arrays of 256 KiB
    const old = Array.from({ length: 4 }, () => T.ones([1 << 16]));
    T.dispose(old);
    expect(T.cpuPoolStats()).toMatchObject({ pooledBytes: 1 << 20, pooledArrays: 4 });
    // a new workload's size: two old arrays make room for it (before, it was never pooled)
    const fresh = T.ones([(1 << 17) - 16]); // 512 KiB - 64 B
    const freshData = fresh.storage.data;
    fresh.dispose();
    expect(T.cpuPoolStats()).toMatchObject({ pooledArrays: 3 });
    expect(T.cpuPoolStats().pooledBytes).toBeLessThanOrEqual(1 << 20);
    const again = T.zeros([(1 << 17) - 16]);
    expect(again.storage.data).toBe(freshData); // handed out again, not reallocated
    expect(again.dataSync().every((v) => v === 0)).toBe(true);
    again.dispose();
    // an array larger than the cap is never pooled, and evicts nothing
    const before = T.cpuPoolStats();
    T.ones([1 << 19]).dispose(); // 2 MiB
    expect(T.cpuPoolStats()).toEqual(before);
    T.setCpuPoolLimit(512 * 1024 * 1024);
    T.trimCpuPool();
  });
});

/**
 * The conformance suite on the webgpu backend (SwiftShader in CI): every case against cpu.
 * Without a WebGPU adapter (a developer machine with no GPU and no SwiftShader) it is skipped
 * with a printed reason; CI sets TESSERA_REQUIRE_WEBGPU=1, where a missing adapter fails.
 */
import { describe, expect, it } from "vitest";
import * as T from "../../src/index";

/** The live counters (peaks may rise inside a loop and still leave nothing behind). */
const live = (m: T.MemoryInfo) => ({ numTensors: m.numTensors, numStorages: m.numStorages, numBytes: m.numBytes });
import { conformanceSuite } from "./runner";
import { GpuContext } from "../../src/backend/webgpu/context";
import { wrap } from "../../src/ops/util";
import { assertClose, probeTestBackend } from "../../src/testing";

const webgpu = await probeTestBackend("webgpu");

conformanceSuite("webgpu", { skip: !webgpu.available });

describe.skipIf(!webgpu.available)("webgpu backend", () => {
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

  it("negative indices are out of range too (as PyTorch and the cpu), not wrapped", async () => {
    const x = T.ones([3, 2], { backend: "webgpu" });
    const neg = T.tensor([[0], [-1], [1]], { dtype: "int32", backend: "webgpu" });
    await expect(T.gather(x, 1, neg).data()).rejects.toThrow("gather: an index is out of range (detected on the GPU)");
    await expect(T.indexSelect(x, 0, T.tensor([-1], { dtype: "int32", backend: "webgpu" })).data()).rejects.toThrow("indexSelect: an index is out of range");
  });

  it("moving tensors between backends", async () => {
    const c = T.tensor([
      [1, 2],
      [3, 4],
    ]);
    const g = T.toBackend(c, "webgpu");
    expect(g.backend).toBe("webgpu");
    const back = await T.toBackendAsync(T.mul(g, 2), "cpu");
    expect(back.arraySync()).toEqual([
      [2, 4],
      [6, 8],
    ]);
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

describe.skipIf(!webgpu.available)("webgpu half-precision storage (two float16/bfloat16 per 32-bit word)", () => {
  /** A tensor holding exactly these 16-bit patterns. */
  const fromBits = async (bits: Uint16Array, dtype: "float16" | "bfloat16", backend: string) =>
    wrap(await T.ready(backend), (await T.ready(backend)).upload(bits, dtype), [bits.length], dtype);
  const bitsOf = async (t: T.Tensor) => new Uint16Array(await t.rawData());
  const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);

  it("halves take 2 bytes an element (rounded up to a word), as memory() reports", async () => {
    await T.ready("webgpu");
    const before = T.memory().backends.webgpu?.numBytes ?? 0;
    const h = T.zeros([1001], { dtype: "float16", backend: "webgpu" });
    const f = T.zeros([1001], { backend: "webgpu" });
    const m = T.memory().backends.webgpu!;
    expect(m.numBytes - before).toBe(2004 + 4004); // 1001 halves: 501 words
    T.dispose([h, f]);
  });

  it("all 65536 patterns of each format: stored, copied and cast bit-exactly as the cpu does", async () => {
    for (const dtype of ["float16", "bfloat16"] as const) {
      const other = dtype === "float16" ? "bfloat16" : "float16";
      const results: Record<string, Uint16Array[]> = {};
      for (const b of ["cpu", "webgpu"]) {
        const x = await fromBits(ALL, dtype, b);
        // raw copy (odd offset, strided), value round trip through float32, conversion to the other format
        const outs = [x, T.contiguous(T.slice(x, [[1, null, 3]])), T.cast(T.cast(x, "float32"), dtype), T.cast(x, other)];
        results[b] = await Promise.all(outs.map(bitsOf));
        T.dispose(outs);
      }
      for (let k = 0; k < results.cpu.length; k++) {
        const [c, g] = [results.cpu[k], results.webgpu[k]];
        expect(g.length).toBe(c.length);
        const isNaN16 = (v: number, d: string) => (d === "bfloat16" ? (v & 0x7f80) === 0x7f80 && (v & 0x7f) !== 0 : (v & 0x7c00) === 0x7c00 && (v & 0x3ff) !== 0);
        const d = k === 3 ? other : dtype;
        let mismatches = 0;
        for (let i = 0; i < c.length; i++) {
          if (c[i] === g[i]) continue;
          // Uploads keep every bit; past that, NaN payloads and signs are not part of any op's
          // contract (the cpu's copies quiet them, the GPU's keep them): only NaN-ness must agree.
          if (k >= 1 && isNaN16(c[i], d) && isNaN16(g[i], d)) continue;
          mismatches++;
        }
        expect(mismatches, `${dtype} output ${k}`).toBe(0);
      }
    }
  });

  it("a matmul with a float16 weight reads it packed and equals the float32 product of the same values", async () => {
    const x = T.normal([3, 70], 0, 1, { seed: 3, backend: "webgpu" });
    const w = T.cast(T.normal([70, 45], 0, 1, { seed: 4, backend: "webgpu" }), "float16");
    const y16 = T.cast(T.matmul(T.cast(x, "float16"), w), "float32");
    const y32 = T.matmul(T.cast(T.cast(x, "float16"), "float32"), T.cast(w, "float32"));
    // the float16 result is the float32 one rounded once: within half an ulp of binary16
    await assertClose(y16, T.cast(T.cast(y32, "float16"), "float32"), { atol: 0, rtol: 0, label: "f16 matmul = round(f32 matmul)" });
    T.dispose([x, w, y16, y32]);
  });

  it("float32 activations times a float16 weight: one dispatch, the weight read in place (no float32 copy)", async () => {
    const be = (await T.ready("webgpu")) as T.Backend & { stats(): { dispatches: number } };
    const x = T.normal([4, 64], 0, 1, { seed: 5, backend: "webgpu" });
    const w = T.cast(T.normal([32, 64], 0, 1, { seed: 6, backend: "webgpu" }), "float16");
    await w.data();
    const d0 = be.stats().dispatches;
    const y = T.linear(x, w);
    expect(be.stats().dispatches - d0).toBe(1);
    expect(y.dtype).toBe("float32");
    await assertClose(y, T.linear(x, T.cast(w, "float32")), { atol: 1e-5, rtol: 1e-5, label: "mixed = cast then multiply" });
    T.dispose([x, w, y]);
  });

  it("a loop of half ops leaves memory() and the live GPU buffers flat", async () => {
    const be = (await T.ready("webgpu")) as T.Backend & { stats(): { liveBuffers: number } };
    const x = T.cast(T.normal([16, 16], 0, 1, { seed: 1, backend: "webgpu" }), "float16");
    await x.data();
    const before = T.memory();
    const buffers = be.stats().liveBuffers;
    for (let i = 0; i < 200; i++) {
      T.tidy(() => {
        const y = T.softmax(T.add(T.matmul(x, x), 1));
        T.sum(T.concat([y, T.transpose(T.cast(y, "bfloat16"))], 1));
      });
    }
    const s = T.sum(x);
    await s.data();
    s.dispose();
    expect(live(T.memory())).toEqual(live(before));
    expect(be.stats().liveBuffers).toBe(buffers);
  });
});

describe.skipIf(!webgpu.available)("webgpu errors are never silent", () => {
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

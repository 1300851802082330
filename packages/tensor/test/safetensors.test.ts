import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { loadSafetensors, saveSafetensors } from "../src/io/node";
import { fixturePath } from "./helpers";

/** Builds a file from a header object and a data buffer (for malformed-file tests). */
function build(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const hb = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return out;
}

describe("reads every file under fixtures/", () => {
  const files = ["ops/ops.safetensors", ...["bert", "gpt2", "llama", "mamba", "mamba2", "vit"].flatMap((m) => [`hf/${m}/model.safetensors`, `hf/${m}/expected.safetensors`])];
  for (const f of files) {
    it(f, () => {
      const path = fixturePath(f);
      const bytes = readFileSync(path);
      const parsed = T.parseSafetensors(bytes);
      const { tensors } = loadSafetensors(path);
      expect(Object.keys(tensors).sort()).toEqual([...parsed.entries.keys()].sort());
      for (const [name, t] of Object.entries(tensors)) {
        const e = parsed.entries.get(name)!;
        expect(t.shape).toEqual(e.shape);
        // Values round-trip bit for bit through our writer.
        const again = T.parseSafetensors(T.writeSafetensors({ [name]: t })).entries.get(name)!;
        expect(again.dtype).toBe(e.dtype);
        expect(Buffer.from(again.bytes).equals(Buffer.from(e.bytes))).toBe(true);
      }
      T.dispose(tensors);
    });
  }

  it("known values: ops W[3,5] is the 9.0 outlier; llama config shapes", () => {
    const { tensors } = loadSafetensors(fixturePath("ops", "ops.safetensors"));
    expect((tensors.W.arraySync() as number[][])[3][5]).toBe(9);
    expect(tensors.int8_absmax_rowwise_q.dtype).toBe("int8");
    expect(tensors.int4_g8_q.dtype).toBe("uint8");
    const hf = loadSafetensors(fixturePath("hf", "gpt2", "expected.safetensors"));
    expect(hf.metadata.model).toBe("gpt2");
    expect(hf.tensors.input_ids.dtype).toBe("int32");
  });
});

describe("round trips every dtype", () => {
  it("tensor dtypes", () => {
    const items: Record<string, T.Tensor> = {
      f32: T.tensor([1.5, -2, 3e-8]),
      f16: T.tensor([1.5, -2, 65504], { dtype: "float16" }),
      bf16: T.tensor([[1.5, -2]], { dtype: "bfloat16" }),
      i32: T.tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: "int32" }),
      i8: T.tensor([-128, 127], { dtype: "int8" }),
      u8: T.tensor([0, 255], { dtype: "uint8" }),
      b: T.tensor([true, false, true]),
      scalar: T.scalar(7),
      empty: T.zeros([0, 4]),
    };
    const bytes = T.writeSafetensors(items, { note: "hello" });
    const { tensors, metadata } = T.readSafetensors(bytes);
    expect(metadata).toEqual({ note: "hello" });
    for (const [k, t] of Object.entries(items)) {
      expect(tensors[k].dtype).toBe(t.dtype);
      expect(tensors[k].shape).toEqual(t.shape);
      expect([...tensors[k].rawDataSync()]).toEqual([...t.rawDataSync()]);
    }
    // The data section starts 8-byte aligned, as the reference writer does.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
  });

  it("F64, I64 and I16 read as float32/int32; out-of-range I64 is an error", () => {
    const bytes = T.writeSafetensors({
      d: { dtype: "F64", shape: [2], data: new Float64Array([0.1, -3]) },
      l: { dtype: "I64", shape: [2], data: new BigInt64Array([5n, -7n]) },
      s: { dtype: "I16", shape: [1], data: new Int16Array([-300]) },
    });
    const { tensors } = T.readSafetensors(bytes);
    expect(tensors.d.dtype).toBe("float32");
    expect([...tensors.d.dataSync()]).toEqual([Math.fround(0.1), -3]);
    expect(tensors.l.arraySync()).toEqual([5, -7]);
    expect(tensors.s.arraySync()).toEqual([-300]);
    const big = T.writeSafetensors({ l: { dtype: "I64", shape: [1], data: new BigInt64Array([2n ** 40n]) } });
    expect(() => T.readSafetensors(big)).toThrow("safetensors 'l': I64 value 1099511627776 at 0 does not fit in int32");
  });

  it("strided views are written in row-major order", () => {
    const x = T.transpose(T.reshape(T.arange(6, undefined, 1, { dtype: "float32" }), [2, 3]));
    const { tensors } = T.readSafetensors(T.writeSafetensors({ x }));
    expect(tensors.x.arraySync()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
  });

  it("saveSafetensors writes atomically and loads back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-st-"));
    const path = join(dir, "w.safetensors");
    await saveSafetensors(path, { w: T.ones([3]) });
    expect(readdirSync(dir)).toEqual(["w.safetensors"]); // no temporary left behind
    expect(loadSafetensors(path).tensors.w.arraySync()).toEqual([1, 1, 1]);
    await expect(saveSafetensors(join(dir, "missing", "x.safetensors"), { w: T.ones([1]) })).rejects.toThrow(/saveSafetensors: cannot write/);
    expect(readdirSync(dir)).toEqual(["w.safetensors"]);
  });
});

describe("rejects malformed files with the reason", () => {
  const f32 = (n: number) => new Uint8Array(new Float32Array(n).buffer);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /file is 5 bytes: too short/],
    [
      "header past the end",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 100n, true);
        return b;
      })(),
      /header length 100 runs past the end of the 16-byte file/,
    ],
    [
      "huge header length",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
        return b;
      })(),
      /exceeds the 100000000-byte limit/,
    ],
    ["not JSON", build(null, f32(1), "{not json"), /header is not valid UTF-8 JSON/],
    ["not an object", build(null, new Uint8Array(0), "[1,2]"), /header does not start with '\{'|header must be a JSON object/],
    ["unknown dtype", build({ a: { dtype: "F8", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /entry 'a' has unsupported dtype "F8"/],
    ["bad shape", build({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, f32(1)), /entry 'a' has an invalid shape \[-1\]/],
    ["offsets out of range", build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, f32(1)), /data_offsets \[0, 8\] lie outside the 4-byte data buffer/],
    ["size mismatch", build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, f32(1)), /entry 'a' holds 4 bytes but F32 \[2\] needs 8/],
    [
      "overlap",
      build({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32(2)),
      /entry 'b' overlaps the previous entry/,
    ],
    ["gap", build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32(2)), /gap in the data buffer before entry 'a'/],
    ["trailing bytes", build({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32(2)), /4 trailing bytes no entry covers/],
    ["bad metadata", build({ __metadata__: { k: 1 } }, new Uint8Array(0)), /__metadata__.k must be a string/],
    ["bad bool byte", build({ a: { dtype: "BOOL", shape: [1], data_offsets: [0, 1] } }, new Uint8Array([7])), /BOOL entry holds the byte 7/],
  ];
  for (const [name, bytes, msg] of cases) {
    it(name, () => {
      const before = T.memory().numTensors;
      expect(() => T.readSafetensors(bytes)).toThrow(msg);
      expect(T.memory().numTensors).toBe(before); // nothing half-loaded
    });
  }

  it("a truncated real file names the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-st-"));
    const good = readFileSync(fixturePath("ops", "ops.safetensors"));
    const path = join(dir, "cut.safetensors");
    writeFileSync(path, good.subarray(0, good.length - 100));
    expect(() => loadSafetensors(path)).toThrow(/trailing bytes|lie outside the .*data buffer.*\[file .*cut\.safetensors\]/);
  });
});

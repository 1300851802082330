/**
 * Untrusted safetensors files: a repeated name, a tensor named like an Object.prototype key,
 * shapes too large to allocate (also when a dimension is 0) and F64 values outside the float32
 * range are refused with the entry named, before any tensor is made.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/index";

function file(headerText: string, data = new Uint8Array(0)): Uint8Array {
  const hb = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return out;
}
const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe("untrusted safetensors headers", () => {
  it("a name given twice is an error (JSON.parse would keep the last silently)", () => {
    const text = `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`;
    expect(() => T.readSafetensors(file(text, f32(1, 2)))).toThrow("safetensors (buffer): header names 'w' twice (an entry must appear once)");
    // Escaped spellings of the same key are the same key.
    const esc = `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0077":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`;
    expect(() => T.readSafetensors(file(esc, f32(1, 2)))).toThrow(/names 'w' twice/);
    // Nested repeated keys inside __metadata__ values are not entries; braces inside strings are text.
    const ok = `{"__metadata__":{"a":"{\\"x\\":1,\\"x\\":2}"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
    expect(T.readSafetensors(file(ok, f32(3))).metadata.a).toBe('{"x":1,"x":2}');
  });

  it("tensors named __proto__ or constructor are kept as tensors", () => {
    const text = `{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`;
    const { tensors } = T.readSafetensors(file(text, f32(5, 6)));
    expect(Object.keys(tensors).sort()).toEqual(["__proto__", "constructor"]);
    expect(Array.from(tensors.__proto__.dataSync())).toEqual([5]);
    const ctor: string = "constructor";
    expect(Array.from(tensors[ctor].dataSync())).toEqual([6]);
    expect(tensors.toString).toBeUndefined(); // no inherited keys look like tensors
  });

  it("shapes beyond what can be allocated are refused, also with a zero dimension", () => {
    for (const shape of [
      [2 ** 40, 2 ** 40, 0],
      [2 ** 31, 0],
      [0, 2 ** 40],
    ]) {
      expect(() => T.readSafetensors(file(`{"w":{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[0,0]}}`))).toThrow(
        /entry 'w' shape \[.*\] has (a dimension \d+ above|more than) /,
      );
    }
    expect(() => T.readSafetensors(file(`{"w":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,4]}}`, f32(1)))).toThrow(
      "safetensors (buffer): entry 'w' shape [65536,65536] has more than 2147483647 elements (in its non-zero dimensions)",
    );
    expect(T.readSafetensors(file(`{"w":{"dtype":"F32","shape":[3,0,7],"data_offsets":[0,0]}}`)).tensors.w.shape).toEqual([3, 0, 7]);
  });

  it("F64 values outside the float32 range are refused (not turned into inf); inf and NaN pass through", () => {
    const bytes = (v: number[]) => new Uint8Array(new Float64Array(v).buffer);
    const head = (n: number) => `{"x":{"dtype":"F64","shape":[${n}],"data_offsets":[0,${8 * n}]}}`;
    expect(() => T.readSafetensors(file(head(3), bytes([1, -1e39, 2])))).toThrow(
      "safetensors 'x': F64 value -1e+39 at 1 is outside the float32 range (|x| <= 3.4028234663852886e+38)",
    );
    const ok = T.readSafetensors(file(head(4), bytes([3.4028234663852886e38, Infinity, Number.NaN, 1e-50]))).tensors.x.dataSync();
    expect([ok[0], ok[1], Number.isNaN(ok[2]), ok[3]]).toEqual([3.4028234663852886e38, Infinity, true, 0]);
  });
});

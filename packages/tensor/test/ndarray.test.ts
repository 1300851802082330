import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import * as T from "../src/index";

describe("scijs ndarray interop", () => {
  it("fromNdarray is zero-copy for Float32Array data, including strided views", () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const nd = ndarray(data, [2, 3]);
    const t = T.fromNdarray(nd);
    expect(t.arraySync()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    data[0] = 42; // shared memory
    expect(t.dataSync()[0]).toBe(42);
    const tr = T.fromNdarray(nd.transpose(1, 0));
    expect(tr.shape).toEqual([3, 2]);
    expect(tr.arraySync()).toEqual([
      [42, 3],
      [1, 4],
      [2, 5],
    ]);
    const stepped = T.fromNdarray(nd.hi(2, 3).step(1, 2)); // columns 0 and 2
    expect(stepped.arraySync()).toEqual([
      [42, 2],
      [3, 5],
    ]);
  });

  it("copies (to float32) where it must: Float64Array data and negative strides", () => {
    const nd = ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]);
    const t = T.fromNdarray(nd);
    expect(t.dtype).toBe("float32");
    expect(T.fromNdarray(nd.step(-1, 1)).arraySync()).toEqual([
      [3, 4],
      [1, 2],
    ]);
    expect(T.fromNdarray(ndarray(new Int32Array([1, 2]), [2])).dtype).toBe("int32");
  });

  it("toNdarray views the tensor's memory, strides and offset included", () => {
    const x = T.reshape(T.arange(12, undefined, 1, { dtype: "float32" }), [3, 4]);
    const v = T.slice(T.transpose(x), [[1, 3]]); // [2,3] strided view with an offset
    const nd = T.toNdarray(v);
    expect(nd.shape).toEqual([2, 3]);
    expect(nd.get(1, 2)).toBe((v.arraySync() as number[][])[1][2]);
    nd.set(0, 0, -1);
    expect((x.arraySync() as number[][])[0][1]).toBe(-1); // writes go through
    expect(T.toNdarray(T.tensor([1.5], { dtype: "float16" })).data).toBeInstanceOf(Float32Array);
  });

  it("rejects non-ndarrays", () => {
    expect(() => T.fromNdarray({} as never)).toThrow("fromNdarray: argument is not an ndarray");
  });
});

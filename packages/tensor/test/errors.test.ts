/** Bad input gets errors that name the op, the argument and the shapes/dtypes involved. */
import { describe, expect, it } from "vitest";
import * as T from "../src/index";

const x23 = () => T.ones([2, 3]);

describe("shape errors", () => {
  it("matmul names both shapes and the contracted axis", () => {
    expect(() => T.matmul(T.ones([2, 3, 4]), T.ones([5, 6]))).toThrow("matmul: a [2,3,4] and b [5,6] disagree on the contracted axis (4 vs 5)");
  });
  it("broadcasting failures name the shapes and the axis", () => {
    expect(() => T.add(T.ones([2, 3]), T.ones([4]))).toThrow("add: shapes [2,3] and [4] cannot be broadcast together (axis -1: 3 vs 4)");
  });
  it("reshape reports element counts", () => {
    expect(() => T.reshape(x23(), [4, 2])).toThrow("reshape: cannot reshape [2,3] (6 elements) to [4,2] (8 elements)");
    expect(() => T.reshape(x23(), [-1, -1])).toThrow("reshape: shape [-1,-1] has more than one -1");
  });
  it("concat, stack, split and expand", () => {
    expect(() => T.concat([x23(), T.ones([2, 4])], 0)).toThrow("concat: xs[1] [2,4] does not match xs[0] [2,3] off axis 0");
    expect(() => T.stack([x23(), T.ones([3, 2])])).toThrow("stack: xs[1] [3,2] differs from xs[0] [2,3]");
    expect(() => T.split(x23(), 2, 1)).toThrow("split: axis 1 of size 3 in [2,3] does not split into 2 equal parts");
    expect(() => T.expand(x23(), [4, 3])).toThrow("expand: cannot expand [2,3] to [4,3] (axis 0: 2 vs 4)");
  });
  it("layer norms check their parameters against the trailing dims", () => {
    expect(() => T.layerNorm(x23(), T.ones([4]))).toThrow("layerNorm: weight [4] must match the trailing dims [3] of x [2,3]");
  });
  it("conv1d checks channels, groups and lengths", () => {
    expect(() => T.conv1d(T.ones([1, 4, 8]), T.ones([2, 3, 3]))).toThrow("conv1d: weight [2,3,3] expects 3 input channels (groups 1) but x [1,4,8] has 4");
    expect(() => T.conv1d(T.ones([1, 4, 2]), T.ones([2, 4, 3]))).toThrow(/input length 2 with padding \[0, 0\] is shorter than the kernel span 3/);
    expect(() => T.conv1d(T.ones([4, 8]), T.ones([2, 4, 3]))).toThrow("conv1d: x must be [B, Cin, L], got [4,8]");
  });
  it("gather / scatterAdd / crossEntropy", () => {
    expect(() => T.gather(x23(), 1, T.tensor([0, 1], { dtype: "int32" }))).toThrow("gather: index [2] must have the rank of x [2,3]");
    expect(() => T.crossEntropy(x23(), T.tensor([0, 1, 2], { dtype: "int32" }))).toThrow("crossEntropy: class targets [3] must match logits [2,3] without the class axis");
  });
  it("ragged nested arrays and wrong value counts are rejected", () => {
    expect(() => T.tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array/);
    expect(() => T.tensor(new Float32Array(5), { shape: [2, 3] })).toThrow("tensor: shape [2,3] holds 6 values but 5 were given");
  });
});

describe("axis errors", () => {
  it("out-of-range axes name the rank", () => {
    expect(() => T.sum(x23(), 2)).toThrow("sum: axes 2 is out of range for a tensor of rank 2");
    expect(() => T.softmax(x23(), -3)).toThrow("softmax: axis -3 is out of range for a tensor of rank 2");
    expect(() => T.permute(x23(), [0, 0])).toThrow("permute: axes [0,0] repeat an axis");
    expect(() => T.squeeze(x23(), 0)).toThrow("squeeze: axis 0 of [2,3] has size 2, not 1");
    expect(() => T.cumsum(x23(), 5)).toThrow("cumsum: axis 5 is out of range for a tensor of rank 2");
  });
  it("slices reject bad indices and steps", () => {
    expect(() => T.slice(x23(), [5])).toThrow("slice: index 5 is out of range for axis 0 of size 2");
    expect(() => T.slice(x23(), [null, [0, 3, -1]])).toThrow(/step -1 on axis 1 must be a positive integer/);
    expect(() => T.narrow(x23(), 1, 2, 2)).toThrow("narrow: start 2 and length 2 do not fit axis 1 of size 3 in [2,3]");
  });
  it("negative indices are errors, as PyTorch (not wrapped to the last row)", () => {
    const m = () =>
      T.tensor([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
    const neg = T.tensor([-1], { dtype: "int32" });
    expect(() => T.indexSelect(m(), 0, neg)).toThrow("indexSelect: index -1 is out of range for axis 0 of size 3 (indices must lie in [0, 3): negative ones are not wrapped)");
    expect(() => T.gather(m(), 1, T.tensor([[0], [-2], [1]], { dtype: "int32" }))).toThrow("gather: index -2 is out of range for axis 1 of size 2");
    expect(() => T.embedding(m(), T.tensor([[0, -1]], { dtype: "int32" }))).toThrow(
      "embedding: ids [1,2] holds -1 at flat position 1: index -1 is out of range for the vocabulary of weight [3,2]",
    );
    expect(() => T.scatterAdd(T.zeros([3]), 0, T.tensor([-3], { dtype: "int32" }), T.ones([1]))).toThrow("scatterAdd: index -3 is out of range for axis 0 of size 3");
  });

  it("crossEntropy: a class target outside [0, C) that is not ignoreIndex is an error", () => {
    const z = T.zeros([2, 4]);
    expect(() => T.crossEntropy(z, T.tensor([1, -3], { dtype: "int32" }))).toThrow(
      "crossEntropy: targets [2] holds -3 at flat position 1: class targets must lie in [0, 4) or equal ignoreIndex -100",
    );
    expect(() => T.crossEntropy(z, T.tensor([4, 0], { dtype: "int32" }))).toThrow(/holds 4 at flat position 0/);
    expect(() => T.crossEntropy(z, T.tensor([7, 0], { dtype: "int32" }), { ignoreIndex: 7 })).not.toThrow();
    expect(T.crossEntropy(z, T.tensor([-100, 2], { dtype: "int32" })).dataSync()[0]).toBeCloseTo(Math.log(4), 6);
  });

  it("integer remainder by zero is an error (PyTorch's ZeroDivisionError); float gives NaN", () => {
    const a = T.tensor([5, 6, 7], { dtype: "int32" });
    expect(() => T.mod(a, T.tensor([2, 0, 3], { dtype: "int32" }))).toThrow("mod: integer remainder by zero: divisor b [3] int32 holds 0 (cast to float for NaN)");
    expect(() => T.mod(a, 0)).toThrow(/integer remainder by zero/);
    expect(Array.from(T.mod(a, T.tensor([2, 4, 3], { dtype: "int32" })).dataSync())).toEqual([1, 2, 1]);
    expect(Number.isNaN(T.mod(T.tensor([5]), 0).dataSync()[0])).toBe(true);
  });

  it("tensor() rejects values that are not numbers or booleans", () => {
    expect(() => T.tensor([1, "a", 3] as never)).toThrow("tensor: values[1] is 'a' (string): tensor values must be numbers or booleans");
    expect(() =>
      T.tensor([
        [1, 2],
        [3, undefined],
      ] as never),
    ).toThrow("tensor: values[1][1] is undefined (undefined): tensor values must be numbers or booleans");
    expect(() => T.tensor([null] as never)).toThrow("tensor: values[0] is null (null)");
    expect(() => T.tensor([{}] as never)).toThrow("tensor: values[0] is an object (object)");
    expect(() => T.tensor("12" as never)).toThrow("tensor: values must be a number, a boolean, a (nested) array of them or a typed array, got string");
    expect(T.tensor([true, false]).dtype).toBe("bool");
  });

  it("index values out of range are caught", () => {
    expect(() => T.indexSelect(x23(), 0, [0, 2])).toThrow("indexSelect: index 2 is out of range for axis 0 of size 2");
    expect(() => T.embedding(T.ones([4, 2]), T.tensor([4], { dtype: "int32" }))).toThrow(
      "embedding: ids [1] holds 4 at flat position 0: index 4 is out of range for the vocabulary of weight [4,2] (must lie in [0, 4))",
    );
    expect(() => T.oneHot(T.tensor([3], { dtype: "int32" }), 3)).toThrow("oneHot: index 3 is out of range for 3 classes");
    expect(() => T.topk(T.ones([3]), 4)).toThrow("topk: k 4 is out of range for axis of size 3 in [3]");
  });
});

describe("dtype errors", () => {
  it("float-only ops name the dtype", () => {
    const i = T.tensor([1, 2], { dtype: "int32" });
    expect(() => T.softmax(i)).toThrow("softmax: x must be a float tensor, got int32 [2]");
    expect(() => T.layerNorm(i)).toThrow("layerNorm: x must be a float tensor, got int32 [2]");
    expect(() => T.exp(T.tensor([true]))).toThrow("exp: x is a bool tensor [1]: cast it to a number type first");
    expect(() => T.gather(x23(), 0, T.tensor([[0, 1, 0]]))).toThrow("gather: index must be an integer tensor (int32), got float32 [1,3]");
    expect(() => T.matmul(T.tensor([[true]]), T.tensor([[true]]))).toThrow("matmul: bool operands (a bool, b bool) are not supported");
    expect(() => T.conv1d(T.ones([1, 1, 4]), T.ones([1, 1, 2], { dtype: "float16" }))).toThrow("conv1d: x float32, weight float16 must share a dtype");
  });
  it("unknown dtypes and backends are rejected", () => {
    expect(() => T.zeros([2], { dtype: "float64" as T.DType })).toThrow("full: unknown dtype 'float64'");
    expect(() => T.setBackend("nope")).toThrow(/setBackend: unknown backend 'nope' \(registered: cpu/);
  });
});

describe("typed reads", () => {
  it("data(dtype) / dataSync(dtype) return that dtype's array and reject another", async () => {
    const f = T.tensor([
      [1, 2],
      [3, 4],
    ]);
    const v: Float32Array = f.dataSync("float32");
    expect(v.reduce((a, b) => a + b, 0)).toBe(10);
    expect(await f.data("float32")).toBeInstanceOf(Float32Array);
    expect(T.cast(f, "bfloat16").dataSync("float32")).toBeInstanceOf(Float32Array); // halves are widened
    const i: Int32Array = T.tensor([1, 2], { dtype: "int32" }).dataSync("int32");
    expect(Array.from(i)).toEqual([1, 2]);
    expect(() => T.tensor([1, 2], { dtype: "int32" }).dataSync("float32")).toThrow("dataSync: asked for float32 values (Float32Array) but tensor [2] is int32 (Int32Array)");
    await expect(f.data("int8")).rejects.toThrow("data: asked for int8 values (Int8Array) but tensor [2,2] is float32");
  });
  it("array(rank) / arraySync(rank) are typed by rank and check it", async () => {
    const x = T.tensor([
      [1, 2],
      [3, 4],
    ]);
    const rows: number[][] = x.arraySync(2);
    expect(rows[1][0]).toBe(3);
    const s: number = T.tensor(5).arraySync(0);
    expect(s).toBe(5);
    const b = T.tensor([
      [false, false],
      [true, true],
    ]);
    expect(await b.array(2)).toEqual([
      [0, 0],
      [1, 1],
    ]); // bool as 0/1 with a rank
    expect(b.arraySync()).toEqual([
      [false, false],
      [true, true],
    ]);
    expect(() => x.arraySync(1)).toThrow("arraySync: asked for rank 1 but tensor [2,2] has rank 2");
  });
});

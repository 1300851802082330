import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { ref } from "./helpers";

describe("matmul matches NumPy", () => {
  it("broadcasts batch dims", async () => {
    const y = T.matmul(ref("m.a"), ref("m.b")); // [2,1,7,9] x [3,9,5]
    expect(y.shape).toEqual([2, 3, 7, 5]);
    await assertClose(y, ref("m.ab"), { atol: 1e-5, rtol: 1e-5 });
  });

  it("cache-blocked path with ragged edge tiles", async () => {
    await assertClose(T.matmul(ref("m.big_a"), ref("m.big_b")), ref("m.big_ab"), { atol: 3e-5, rtol: 1e-5 });
  });

  it("k longer than one block, from transposed views (no copy)", async () => {
    const a = T.transpose(T.contiguous(T.transpose(ref("m.k_a")))); // a strided [40,300] view
    expect(a.isContiguous).toBe(false);
    await assertClose(T.matmul(a, ref("m.k_b")), ref("m.k_ab"), { atol: 5e-5, rtol: 1e-5 });
  });

  it("1-D operands follow torch.matmul", () => {
    const m = T.tensor([
      [1, 2],
      [3, 4],
    ]);
    const v = T.tensor([1, 1]);
    expect(T.matmul(m, v).arraySync()).toEqual([3, 7]);
    expect(T.matmul(v, m).arraySync()).toEqual([4, 6]);
    expect(T.matmul(v, v).arraySync()).toBe(2);
  });

  it("integer matmul is exact in int32", () => {
    const a = T.tensor([[100, -3]], { dtype: "int8" });
    const b = T.tensor([[2], [5]], { dtype: "int8" });
    const y = T.matmul(a, b);
    expect(y.dtype).toBe("int32");
    expect(y.arraySync()).toEqual([[185]]);
  });

  it("linear uses the [out, in] weight layout", () => {
    const y = T.linear(
      T.tensor([[1, 2]]),
      T.tensor([
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
      T.tensor([0, 0, 10]),
    );
    expect(y.arraySync()).toEqual([[1, 2, 13]]);
  });
});

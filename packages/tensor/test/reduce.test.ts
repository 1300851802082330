import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { ref } from "./helpers";

const TOL = { atol: 3e-6, rtol: 3e-6 };

describe("reductions match NumPy", () => {
  const x = () => ref("r.x"); // [3,4,5]
  it("sum over several axes", async () => assertClose(T.sum(x(), [0, 2]), ref("r.sum_0_2"), TOL));
  it("sum over a leading axis", async () => assertClose(T.sum(x(), 0), ref("r.sum_0"), TOL));
  it("mean", async () => assertClose(T.mean(x(), 1), ref("r.mean_1"), TOL));
  it("prod", async () => assertClose(T.prod(T.div(x(), 2), -1), ref("r.prod_last"), TOL));
  it("max", async () => assertClose(T.max(x(), 1), ref("r.max_1"), TOL));
  it("min over all", async () => assertClose(T.min(x()), ref("r.min_all"), TOL));
  it("argmax", async () => expect([...T.argmax(x(), 2).dataSync()]).toEqual([...ref("r.argmax_2").dataSync()]));
  it("argmin", async () => expect([...T.argmin(x(), 0).dataSync()]).toEqual([...ref("r.argmin_0").dataSync()]));
  it("var (unbiased)", async () => assertClose(T.variance(x(), [0, 1]), ref("r.var_01"), TOL));
  it("std (biased)", async () => assertClose(T.std(x(), 2, { correction: 0 }), ref("r.std_2_biased"), TOL));
  it("logsumexp", async () => assertClose(T.logsumexp(x(), -1), ref("r.logsumexp_last"), TOL));

  it("keepdims keeps reduced axes as size 1", () => {
    expect(T.sum(x(), [0, 2], { keepdims: true }).shape).toEqual([1, 4, 1]);
    expect(T.argmax(x(), 1, { keepdims: true }).shape).toEqual([3, 1, 5]);
    expect(T.argmax(x()).shape).toEqual([]);
  });

  it("reduces strided views without copying them first", async () => {
    const xt = T.transpose(x(), 0, 2); // [5,4,3] view
    await assertClose(T.sum(xt, [0, 2]), ref("r.sum_0_2"), TOL);
  });

  it("logsumexp is stable for huge and infinite inputs", () => {
    expect(T.logsumexp(T.tensor([1e4, 1e4])).itemSync()).toBeCloseTo(1e4 + Math.log(2), 2);
    expect(T.logsumexp(T.tensor([-Infinity, -Infinity])).itemSync()).toBe(-Infinity);
  });

  it("integer sums are int32; any/all give bool", () => {
    const i = T.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: "int8" },
    );
    expect(T.sum(i).dtype).toBe("int32");
    expect(T.sum(i).itemSync()).toBe(10);
    expect(T.any(T.tensor([false, true])).arraySync()).toBe(true);
    expect(
      T.all(
        T.tensor([
          [true, false],
          [true, true],
        ]),
        1,
      ).arraySync(),
    ).toEqual([false, true]);
  });

  it("argmax returns the first of ties and treats NaN as largest", () => {
    expect(T.argmax(T.tensor([1, 3, 3])).itemSync()).toBe(1);
    expect(T.argmax(T.tensor([1, NaN, 3])).itemSync()).toBe(1);
  });
});

import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose } from "../src/testing";
import { ref } from "./helpers";

// float32 kernels against float64 NumPy/SciPy: a few ulps of the output magnitude.
const TOL = { atol: 2e-6, rtol: 2e-6 };

describe("unary ops match NumPy/SciPy", () => {
  const x = () => ref("u.x");
  const xp = () => ref("u.xp");
  const cases: [string, () => T.Tensor][] = [
    ["exp", () => T.exp(x())],
    ["expm1", () => T.expm1(x())],
    ["tanh", () => T.tanh(x())],
    ["sigmoid", () => T.sigmoid(x())],
    ["erf", () => T.erf(x())],
    ["gelu", () => T.gelu(x())],
    ["gelu_tanh", () => T.gelu(x(), "tanh")],
    ["silu", () => T.silu(x())],
    ["softplus", () => T.softplus(x())],
    ["logsigmoid", () => T.logSigmoid(x())],
    ["elu", () => T.elu(x())],
    ["sin", () => T.sin(x())],
    ["cos", () => T.cos(x())],
    ["abs", () => T.abs(x())],
    ["neg", () => T.neg(x())],
    ["sign", () => T.sign(x())],
    ["relu", () => T.relu(x())],
    ["floor", () => T.floor(x())],
    ["ceil", () => T.ceil(x())],
    ["square", () => T.square(x())],
    ["round", () => T.round(T.mul(x(), 2))],
    ["log", () => T.log(xp())],
    ["log1p", () => T.log1p(xp())],
    ["sqrt", () => T.sqrt(xp())],
    ["rsqrt", () => T.rsqrt(xp())],
    ["reciprocal", () => T.reciprocal(xp())],
  ];
  for (const [name, run] of cases) {
    it(name, async () => {
      await assertClose(run(), ref(`u.${name}`), { ...TOL, label: name });
    });
  }

  it("round is half-to-even like torch.round / np.round", async () => {
    await assertClose(T.round(ref("u.ties")), ref("u.ties_round"), { atol: 0, rtol: 0 });
  });
});

describe("binary ops broadcast like NumPy", () => {
  const a = () => ref("b.a"); // [3,1,5]
  const b = () => ref("b.b"); // [4,5]
  const cases: [string, () => T.Tensor][] = [
    ["add", () => T.add(a(), b())],
    ["sub", () => T.sub(a(), b())],
    ["mul", () => T.mul(a(), b())],
    ["div", () => T.div(a(), ref("b.bp"))],
    ["maximum", () => T.maximum(a(), b())],
    ["minimum", () => T.minimum(a(), b())],
    ["mod", () => T.mod(a(), ref("b.bp"))],
    ["atan2", () => T.atan2(a(), b())],
    ["pow", () => T.pow(ref("b.ap"), b())],
  ];
  for (const [name, run] of cases) {
    it(name, async () => {
      const y = run();
      expect(y.shape).toEqual([3, 4, 5]);
      await assertClose(y, ref(`b.${name}`), { ...TOL, label: name });
    });
  }

  it("comparisons give bool", async () => {
    const y = T.lt(a(), b());
    expect(y.dtype).toBe("bool");
    expect([...(await y.data())]).toEqual([...(await ref("b.lt").data())]);
  });

  it("scalars are weakly typed, as in PyTorch", () => {
    const i = T.tensor([1, 2, 3], { dtype: "int32" });
    expect(T.add(i, 2).dtype).toBe("int32");
    expect(T.add(i, 0.5).dtype).toBe("float32");
    expect(T.mul(T.tensor([1, 2], { dtype: "float16" }), 3).dtype).toBe("float16");
    expect(T.div(i, 2).dtype).toBe("float32"); // true division
    expect([...T.div(i, 2).dataSync()]).toEqual([0.5, 1, 1.5]);
    expect(T.add(T.tensor([true, false]), T.tensor([true, true])).dtype).toBe("bool");
  });

  it("promotes mixed dtypes (int + float -> float, f16 + bf16 -> f32)", () => {
    const f16 = T.tensor([1.5], { dtype: "float16" });
    const bf16 = T.tensor([2.5], { dtype: "bfloat16" });
    expect(T.add(f16, bf16).dtype).toBe("float32");
    expect(T.add(f16, bf16).dataSync()[0]).toBe(4);
    expect(T.add(T.tensor([1], { dtype: "int8" }), T.tensor([1], { dtype: "uint8" })).dtype).toBe("int32");
    expect(T.add(T.tensor([1], { dtype: "int32" }), f16).dtype).toBe("float16");
  });

  it("where broadcasts condition and branches", () => {
    const c = T.tensor([[true], [false]]);
    const y = T.where(c, T.tensor([1, 2, 3]), -1);
    expect(y.arraySync()).toEqual([
      [1, 2, 3],
      [-1, -1, -1],
    ]);
  });

  it("clamp, isnan, isinf, logical ops", () => {
    expect(T.clamp(T.tensor([-2, 0.5, 3]), -1, 1).arraySync()).toEqual([-1, 0.5, 1]);
    expect(T.isnan(T.tensor([NaN, 1])).arraySync()).toEqual([true, false]);
    expect(T.isinf(T.tensor([Infinity, -Infinity, 0])).arraySync()).toEqual([true, true, false]);
    expect(T.logicalXor(T.tensor([true, false]), T.tensor([true, true])).arraySync()).toEqual([false, true]);
    expect(T.logicalNot(T.tensor([1, 0], { dtype: "int32" })).arraySync()).toEqual([false, true]);
  });

  it("maximum propagates NaN", () => {
    expect(Number.isNaN(T.maximum(T.tensor([NaN]), T.tensor([1])).dataSync()[0])).toBe(true);
  });
});

describe("half-precision storage", () => {
  it("float32 -> float16 rounds to nearest even like NumPy (subnormals, overflow, ties)", async () => {
    const x = ref("h.x");
    const h = T.cast(x, "float16");
    const bits = [...h.rawDataSync()];
    const expected = [...(await ref("h.f16bits").data())];
    expect(bits).toEqual(expected);
  });

  it("float16 values widen exactly and compute in float32", async () => {
    const h = T.cast(ref("h.x"), "float16");
    const back = T.cast(h, "float32");
    const again = T.cast(back, "float16");
    expect([...again.rawDataSync()]).toEqual([...h.rawDataSync()]);
  });

  it("bfloat16 keeps the top 16 bits with round-to-nearest-even", () => {
    // 1 + 2^-8 is exactly halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
    const t = T.tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.140625, -0.0, Infinity, 1e38 * 3.4], { dtype: "bfloat16" });
    expect([...t.dataSync()]).toEqual([1, 1 + 2 ** -6, 3.140625, -0, Infinity, Infinity]);
    expect(Number.isNaN(T.tensor([NaN], { dtype: "bfloat16" }).dataSync()[0])).toBe(true);
  });

  it("ops on half tensors round each result to the storage type", () => {
    const a = T.tensor([1, 2048], { dtype: "float16" });
    // 2048 + 1 = 2049 is not representable in float16 (spacing 2 above 2048): ties to even -> 2048.
    expect([...T.add(a, 1).dataSync()]).toEqual([2, 2048]);
  });
});

describe("casts", () => {
  it("float -> int truncates toward zero; anything -> bool is != 0", () => {
    const x = T.tensor([-1.7, -0.2, 0, 0.9, 2.5]);
    expect(T.cast(x, "int32").arraySync()).toEqual([-1, 0, 0, 0, 2]);
    expect(T.cast(x, "bool").arraySync()).toEqual([true, true, false, true, true]);
    expect(T.cast(T.tensor([300, -129], { dtype: "int32" }), "int8").arraySync()).toEqual([44, 127]);
  });
});

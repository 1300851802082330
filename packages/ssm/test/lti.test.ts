/**
 * Linear time-invariant layers: S4D (kernel and layer against NumPy, convolution = recurrence
 * = decoding) and the LMU (Legendre system and its zero-order hold against SciPy, convolution
 * = recurrence = decoding), gradients and errors.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as S from "../src/index";
import { checkParamGrads, inPieces, maxAbs, ref, stepwise } from "./helpers";

function s4dFromRefs(): S.S4D {
  const m = new S.S4D({ dModel: 3, dState: 8, seed: 1 });
  m.loadStateDict({
    D: ref("s4d.D"),
    "kernel.log_dt": ref("s4d.log_dt"),
    "kernel.C": ref("s4d.C"),
    "kernel.log_A_real": ref("s4d.log_A_real"),
    "kernel.A_imag": ref("s4d.A_imag"),
    "output_linear.0.weight": ref("s4d.W"),
    "output_linear.0.bias": ref("s4d.bW"),
  });
  return m;
}

describe("S4D", () => {
  it("kernel and layer output match NumPy (s4d.py semantics)", async () => {
    const m = s4dFromRefs();
    await assertClose(m.kernel.kernel(21), ref("s4d.kernel"), { atol: 1e-5 * maxAbs(ref("s4d.kernel")), rtol: 0, label: "kernel" });
    for (const form of ["convolution", "recurrent"] as const) {
      m.form = form;
      await assertClose(m.forward(ref("s4d.u")).y, ref("s4d.y"), { atol: 1e-5 * maxAbs(ref("s4d.y")), rtol: 0, label: form });
    }
  });

  it("convolution = recurrence = pieces = steps (within 1e-5 relative), long sequence", async () => {
    const m = new S.S4D({ dModel: 4, dState: 16, seed: 2 });
    const x = T.normal([2, 200, 4], 0, 1, { seed: 3 });
    const whole = m.forward(x).y;
    const tol = { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 };
    await assertClose(inPieces(m, x, [37, 1, 162]), whole, { ...tol, label: "pieces" });
    await assertClose(stepwise(m, x), whole, { ...tol, label: "steps" });
    m.form = "recurrent";
    await assertClose(m.forward(x).y, whole, { ...tol, label: "recurrent" });
  });

  it("gradients match finite differences; every parameter is reached; s4d.py names", async () => {
    const m = new S.S4D({ dModel: 2, dState: 4, seed: 4 });
    expect(Object.keys(m.namedParameters()).sort()).toEqual([
      "D",
      "kernel.A_imag",
      "kernel.C",
      "kernel.log_A_real",
      "kernel.log_dt",
      "output_linear.0.bias",
      "output_linear.0.weight",
    ]);
    const x = T.normal([1, 6, 2], 0, 1, { seed: 5 });
    const w = T.normal([1, 6, 2], 0, 1, { seed: 6 });
    await checkGrad((inp) => T.sum(T.mul(m.forward(inp).y, w)), [x], { eps: 1e-3, atol: 2e-3, rtol: 2e-2 });
    const loss = () => T.sum(T.mul(m.forward(x).y, w));
    await checkParamGrads(m, ["kernel.log_dt", "kernel.C", "kernel.log_A_real", "kernel.A_imag", "D"], loss, { eps: 1e-3, atol: 2e-3, rtol: 2e-2 });
    const { grads } = T.gradients(() => T.sum(T.mul(m.forward(x).y, w)), m.namedParameters());
    for (const [name, g] of Object.entries(grads)) expect(maxAbs(g), name).toBeGreaterThan(0);
  });

  it("errors", () => {
    expect(() => new S.S4D({ dModel: 2, dState: 5 })).toThrow(/dState must be a positive even integer/);
    expect(() => new S.S4D({ dModel: 2 }).forward(T.zeros([1, 3, 4]))).toThrow(/S4D: input \[1,3,4\] must be \[B, T, dModel = 2\]/);
  });
});

describe("LMU", () => {
  it("the Legendre system and its zero-order hold match SciPy (cont2discrete)", async () => {
    const { A, B } = S.legendreSystem(6, 10);
    await assertClose(A.flat(), ref("lmu.A"), { atol: 1e-6, rtol: 1e-6 });
    await assertClose(B, ref("lmu.B"), { atol: 1e-6, rtol: 1e-6 });
    const { Abar, Bbar } = S.zeroOrderHold(A, B, 1);
    await assertClose(Abar.flat(), ref("lmu.Abar"), { atol: 1e-6, rtol: 1e-6 });
    await assertClose(Bbar, ref("lmu.Bbar"), { atol: 1e-6, rtol: 1e-6 });
    const th = 0.7;
    const R = S.expm([
      [0, -th],
      [th, 0],
    ]); // a rotation
    await assertClose(R.flat(), [Math.cos(th), -Math.sin(th), Math.sin(th), Math.cos(th)], { atol: 1e-12, rtol: 0 });
  });

  it("convolution (LMUFFT) = recurrence = pieces = steps", async () => {
    const m = new S.LMU({ dModel: 3, order: 8, theta: 20, memoryD: 2, seed: 1 });
    const x = T.normal([2, 70, 3], 0, 1, { seed: 2 });
    const whole = m.forward(x).y;
    const tol = { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 };
    await assertClose(inPieces(m, x, [13, 1, 56]), whole, { ...tol, label: "pieces" });
    await assertClose(stepwise(m, x), whole, { ...tol, label: "steps" });
    m.form = "recurrent";
    await assertClose(m.forward(x).y, whole, { ...tol, label: "recurrent" });
  });

  it("recurrent connections: forward = steps; the convolution form is refused; gradients", async () => {
    const m = new S.LMU({ dModel: 3, order: 4, theta: 5, hiddenToMemory: true, memoryToMemory: true, seed: 3 });
    expect(m.form).toBe("recurrent");
    const x = T.normal([1, 9, 3], 0, 1, { seed: 4 });
    const whole = m.forward(x).y;
    await assertClose(stepwise(m, x), whole, { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 });
    expect(() => new S.LMU({ dModel: 3, order: 4, theta: 5, hiddenToMemory: true, form: "convolution" })).toThrow(/convolution form needs a memory without recurrent connections/);
    const w = T.normal([1, 9, 3], 0, 1, { seed: 5 });
    await checkGrad((inp) => T.sum(T.mul(m.forward(inp).y, w)), [x], { eps: 1e-3, atol: 2e-3, rtol: 2e-2 });
    const c = new S.LMU({ dModel: 3, order: 4, theta: 5, seed: 6 });
    await checkGrad((inp) => T.sum(T.mul(c.forward(inp).y, w)), [x], { eps: 1e-3, atol: 2e-3, rtol: 2e-2 });
  });
});

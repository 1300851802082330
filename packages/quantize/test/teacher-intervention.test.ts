/**
 * Teacher Intervention: the loss at lambda = 1 is each student layer fed the teacher's input,
 * at lambda = 0 plain layer-wise distillation (checked against hand-built losses); the teacher
 * gets no gradient; the TI-G schedule; and a ternary QAT run on a 12-layer residual stack where
 * both TI-G and plain KD lower the end-to-end error (numbers printed; on this toy plain KD ends
 * lower, see the README).
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as Q from "../src/index";

const layer = (W: T.Tensor) => (h: T.Tensor) => T.add(h, T.tanh(T.matmul(h, W)));

describe("Teacher Intervention", () => {
  it("lambda = 1 feeds every student layer the teacher's input; lambda = 0 is plain KD", () => {
    const D = 8;
    const tW = [1, 2, 3].map((s) => T.normal([D, D], 0, 0.5, { seed: s }));
    const sW = [4, 5, 6].map((s) => T.normal([D, D], 0, 0.5, { seed: s }));
    const layers = tW.map((w, l) => ({ teacher: layer(w), student: layer(sW[l]) }));
    const x = T.normal([5, D], 0, 1, { seed: 7 });
    const t1 = layer(tW[0])(x);
    const t2 = layer(tW[1])(t1);
    const t3 = layer(tW[2])(t2);
    const ti = (T.mseLoss(layer(sW[0])(x), t1).itemSync() + T.mseLoss(layer(sW[1])(t1), t2).itemSync() + T.mseLoss(layer(sW[2])(t2), t3).itemSync()) / 3;
    expect(Q.interventionLoss(layers, x, 1).itemSync()).toBeCloseTo(ti, 6);
    const s1 = layer(sW[0])(x);
    const s2 = layer(sW[1])(s1);
    const s3 = layer(sW[2])(s2);
    const kd = (T.mseLoss(s1, t1).itemSync() + T.mseLoss(s2, t2).itemSync() + T.mseLoss(s3, t3).itemSync()) / 3;
    expect(Q.interventionLoss(layers, x, 0).itemSync()).toBeCloseTo(kd, 6);
    // The teacher is a fixed target: no gradient reaches its weights.
    const { grads } = T.gradients(() => Q.interventionLoss(layers, x, 0.5), { t0: tW[0], s0: sW[0] });
    expect(Math.max(...Array.from(grads.t0.dataSync(), Math.abs))).toBe(0);
    expect(Math.max(...Array.from(grads.s0.dataSync(), Math.abs))).toBeGreaterThan(0);
    expect([0, 30, 50, 70, 100].map((s) => Q.interventionSchedule(s, 100))).toEqual([1, 1, 0.5, 0, 0].map((v, i) => (i === 2 ? Q.interventionSchedule(50, 100) : v)));
    expect(Q.interventionSchedule(50, 100)).toBeCloseTo(0.5, 12);
    expect(() => Q.interventionLoss(layers, x, 2)).toThrow(/lambda must lie in \[0, 1\]/);
  });

  it("ternary QAT of a 12-layer residual stack: TI-G and plain KD both lower the end-to-end error", () => {
    const [L, D] = [12, 32];
    const teacherW = Array.from({ length: L }, (_, l) => T.keep(T.mul(T.normal([D, D], 0, 1, { seed: 10 + l }), 1.5 / Math.sqrt(D))));
    const tern: Q.QuantFormat = { type: "ternary", granularity: { kind: "channel", axis: 1 } };
    const endToEnd = (Ws: T.Tensor[], x: T.Tensor) => {
      let hs = x;
      let ht = x;
      for (let l = 0; l < L; l++) {
        hs = layer(Q.fakeQuantize(Ws[l], tern))(hs);
        ht = layer(teacherW[l])(ht);
      }
      return T.mseLoss(hs, ht).itemSync();
    };
    const xEval = T.normal([256, D], 0, 1, { seed: 99 });
    const train = (useTI: boolean, steps: number) => {
      const Ws = teacherW.map((w) => T.keep(T.clone(w)));
      const params = Object.fromEntries(Ws.map((w, i) => [String(i), w]));
      const opt = new T.AdamW(params, { lr: 3e-3, weightDecay: 0 });
      for (let s = 0; s < steps; s++) {
        const lambda = useTI ? Q.interventionSchedule(s, steps) : 0;
        const x = T.normal([64, D], 0, 1, { seed: 1000 + s });
        const layers = Ws.map((w, l) => ({ teacher: layer(teacherW[l]), student: (h: T.Tensor) => layer(Q.fakeQuantize(w, tern))(h) }));
        const r = T.tidy(() => T.gradients(() => Q.interventionLoss(layers, x, lambda), params));
        opt.step(r.grads);
        T.dispose([r.value, r.grads, x]);
      }
      return endToEnd(Ws, xEval);
    };
    const start = endToEnd(teacherW, xEval);
    const kd = train(false, 200);
    const ti = train(true, 200);
    console.log(`ternary 12-layer stack, end-to-end MSE: rounded teacher ${start.toFixed(4)}, KD ${kd.toFixed(4)}, TI-G ${ti.toFixed(4)}`);
    expect(kd).toBeLessThan(0.8 * start);
    expect(ti).toBeLessThan(0.8 * start);
  });
});

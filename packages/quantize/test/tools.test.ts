/**
 * 2:4 sparsity, range estimators, calibration hooks and quantizeModule (with its per-layer
 * report), each against a hand computation or a dense reference.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as Q from "../src/index";

describe("2:4 sparsity", () => {
  it("keeps the two largest magnitudes of every four; the masked product equals the dense one", async () => {
    const w = T.tensor([[1, -5, 2, 0.5, 3, 3, -3, 1]]);
    const s = Q.prune24(w);
    expect(Array.from(Q.densify24(s))).toEqual([0, -5, 2, 0, 3, 3, 0, 0]); // ties: lower index kept
    const W = T.normal([24, 64], 0, 1, { seed: 1 });
    const sp = Q.prune24(W);
    const dense = Q.densify24(sp);
    for (let g = 0; g < dense.length / 4; g++) expect(dense.slice(4 * g, 4 * g + 4).filter((v) => v !== 0).length).toBe(2);
    const x = T.normal([3, 64], 0, 1, { seed: 2 });
    const b = T.normal([24], 0, 1, { seed: 3 });
    await assertClose(Q.sparse24Linear(x, sp, b), T.linear(x, T.tensor(dense, { shape: [24, 64] }), b), { atol: 1e-5, rtol: 1e-5 });
    expect(sp.values.length).toBe(24 * 32);
    expect(() => Q.prune24(T.zeros([2, 6]))).toThrow(/in a multiple of 4, got \[2,6\]/);
  });
});

describe("range estimators", () => {
  const a = [0, 1, -2, 3];
  const b = [5, -1, 2, 0];
  it("min-max, EMA and percentile ranges follow their definitions", () => {
    const mm = new Q.MinMaxObserver();
    mm.observe(a);
    mm.observe(b);
    expect(mm.range()).toEqual({ min: -2, max: 5 });
    const ema = new Q.EmaObserver(0.9);
    ema.observe(a);
    ema.observe(b);
    expect(ema.range().min).toBeCloseTo(0.9 * -2 + 0.1 * -1, 12);
    expect(ema.range().max).toBeCloseTo(0.9 * 3 + 0.1 * 5, 12);
    const p = new Q.PercentileObserver(99);
    const vals = Float32Array.from({ length: 10001 }, (_, i) => i - 5000);
    p.observe(vals);
    expect(p.range()).toEqual({ min: -4900, max: 4900 });
    expect(() => new Q.MinMaxObserver().range()).toThrow(/no batch observed yet/);
  });

  it("the MSE search clips a heavy tail and lowers the quantization error", () => {
    const x = T.mul(T.normal([20000], 0, 1, { seed: 4 }), 1).dataSync();
    const spiky = Float32Array.from(x);
    spiky[0] = 60; // one outlier
    const mse = new Q.MseObserver(4);
    mse.observe(spiky);
    const r = mse.range();
    expect(r.max).toBeLessThan(60);
    const err = (range: Q.Range) => {
      const { scale, zero } = Q.qparams(range, 4, false);
      let e = 0;
      for (const v of spiky) e += (v - (Math.min(15, Math.max(0, Q.roundHalfEven(v / scale) + zero)) - zero) * scale) ** 2;
      return e;
    };
    expect(err(r)).toBeLessThan(0.5 * err({ min: Math.min(...spiky), max: 60 }));
    expect(Q.qparams({ min: -1, max: 3 }, 8, false)).toEqual({ scale: Math.fround(4 / 255), zero: 64 });
    expect(Q.qparams({ min: -1, max: 3 }, 8, true).zero).toBe(128);
  });

  it("calibrate observes the inputs of the named submodules during the run, then restores them", async () => {
    class Net extends T.Module {
      readonly a = this.registerModule("a", new T.Linear(4, 3, { seed: 1 }));
      readonly b = this.registerModule("b", new T.Linear(3, 2, { seed: 2 }));
      forward(x: T.Tensor) {
        return this.b.forward(T.relu(this.a.forward(x)));
      }
    }
    const net = new Net();
    const x = T.normal([5, 4], 0, 1, { seed: 3 });
    const obs = await Q.calibrate(net, { include: /^(a|b)$/, observer: () => new Q.MinMaxObserver() }, () => net.forward(x));
    const xr = x.dataSync();
    expect(obs.get("a")!.range()).toEqual({ min: Math.min(...xr), max: Math.max(...xr) });
    expect(obs.get("b")!.range().min).toBe(0); // after relu
    expect(Object.prototype.hasOwnProperty.call(net.a, "forward")).toBe(false);
    await expect(Q.calibrate(net, { include: /^zzz$/, observer: () => new Q.MinMaxObserver() }, () => 0)).rejects.toThrow(/no module name matches/);
  });
});

describe("quantizeModule", () => {
  it("quantizes the matching Linear layers in place, reports bytes and SQNR, and the output stays close", async () => {
    class Mlp extends T.Module {
      readonly up = this.registerModule("up", new T.Linear(64, 128, { seed: 1 }));
      readonly down = this.registerModule("down", new T.Linear(128, 64, { seed: 2 }));
      forward(x: T.Tensor) {
        return this.down.forward(T.gelu(this.up.forward(x)));
      }
    }
    const m = new Mlp();
    const x = T.normal([2, 64], 0, 1, { seed: 3 });
    const before = m.forward(x);
    const report = Q.quantizeModule(m, { format: { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } } });
    expect(report.map((r) => r.name)).toEqual(["up", "down"]);
    for (const r of report) {
      expect(r.bytesAfter).toBeLessThan(r.bytesBefore / 3.5);
      expect(r.sqnr).toBeGreaterThan(35);
      expect(r.fused).toBe(true);
    }
    expect(Object.keys(m.namedParameters()).sort()).toEqual(["down.bias", "up.bias"]);
    const after = m.forward(x);
    await assertClose(after, before, { atol: 0.02, rtol: 0.02 });
    expect(() => Q.quantizeModule(m, { format: report.length ? { type: "nf4", blockSize: 64, doubleQuant: false } : ({} as never) })).toThrow(/no Linear layer matches/);
  });
});

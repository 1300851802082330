import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { philox4x32 } from "../src/random/philox";

describe("Philox4x32-10", () => {
  it("matches the Random123 known-answer vectors", () => {
    const out = new Uint32Array(4);
    const hex = () => [...out].map((v) => v.toString(16).padStart(8, "0")).join(" ");
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect(hex()).toBe("6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex()).toBe("408f276d 41c83b0e a20bc7c6 6d5451fd");
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect(hex()).toBe("d16cfe09 94fdcceb 5001e420 24126ea1");
  });
});

describe("seeded random tensors", () => {
  it("one seed gives the same values; the stream advances between draws", () => {
    const a = T.normal([5], 0, 1, { seed: 42 }).dataSync();
    const b = T.normal([5], 0, 1, { seed: 42 }).dataSync();
    expect([...a]).toEqual([...b]);
    const g = new T.Generator(42);
    const c = T.normal([5], 0, 1, { seed: g }).dataSync();
    const d = T.normal([5], 0, 1, { seed: g }).dataSync();
    expect([...c]).toEqual([...a]);
    expect([...d]).not.toEqual([...c]);
    T.manualSeed(9);
    const e = T.uniform([3]).dataSync();
    T.manualSeed(9);
    expect([...T.uniform([3]).dataSync()]).toEqual([...e]);
  });

  it("moments and ranges are right", () => {
    const n = T.normal([20000], 1, 2, { seed: 1 });
    expect(T.mean(n).itemSync()).toBeCloseTo(1, 1);
    expect(T.std(n).itemSync()).toBeCloseTo(2, 1);
    const u = T.uniform([20000], -1, 3, { seed: 2 });
    expect(T.min(u).itemSync()).toBeGreaterThanOrEqual(-1);
    expect(T.max(u).itemSync()).toBeLessThan(3);
    expect(T.mean(u).itemSync()).toBeCloseTo(1, 1);
    const r = T.randint(3, 7, [20000], { seed: 3 });
    expect(T.min(r).itemSync()).toBe(3);
    expect(T.max(r).itemSync()).toBe(6);
    expect(T.mean(T.bernoulli(0.25, [20000], { seed: 4 })).itemSync()).toBeCloseTo(0.25, 1);
  });

  it("dropout zeroes about p and rescales the rest; eval mode is the identity", () => {
    const x = T.ones([10000]);
    const y = T.dropout(x, 0.2, { seed: 5 });
    const v = y.dataSync();
    const zeros = v.filter((t) => t === 0).length;
    expect(zeros / v.length).toBeCloseTo(0.2, 1);
    expect(v.find((t) => t !== 0)).toBeCloseTo(1.25, 6);
    expect(
      T.dropout(x, 0.2, { training: false })
        .dataSync()
        .every((t) => t === 1),
    ).toBe(true);
  });
});

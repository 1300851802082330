import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as A from "../src/index";

/** Float64 oracle: rotate pairs (a, b) of x[t] by angle t * inv[i]. */
function ropeOracle(x: number[][], inv: number[], pairing: "half" | "interleaved", rotaryDim: number, offset = 0): number[][] {
  return x.map((row, t) => {
    const out = [...row];
    for (let i = 0; i < rotaryDim / 2; i++) {
      const [a, b] = pairing === "half" ? [i, i + rotaryDim / 2] : [2 * i, 2 * i + 1];
      const ang = (t + offset) * inv[i];
      out[a] = row[a] * Math.cos(ang) - row[b] * Math.sin(ang);
      out[b] = row[b] * Math.cos(ang) + row[a] * Math.sin(ang);
    }
    return out;
  });
}

describe("RoPE", () => {
  const x = T.normal([1, 1, 9, 8], 0, 1, { seed: 1 });
  for (const pairing of ["half", "interleaved"] as const) {
    it(`matches an explicit rotation (${pairing}, offset, partial rotary)`, async () => {
      const rows = ((await x.array()) as number[][][][])[0][0];
      for (const rotaryDim of [8, 4]) {
        const inv = Array.from({ length: rotaryDim / 2 }, (_, i) => 1 / 500 ** ((2 * i) / rotaryDim));
        const y = A.rope(x, { pairing, rotaryDim, base: 500, offset: 3 });
        await assertClose(y, T.tensor([[ropeOracle(rows, inv, pairing, rotaryDim, 3)]]), { atol: 2e-6, rtol: 1e-5, label: `${pairing} r${rotaryDim}` });
      }
    });
  }
  it("scores depend only on the position difference", async () => {
    const q = T.normal([1, 1, 1, 16], 0, 1, { seed: 2 });
    const k = T.normal([1, 1, 1, 16], 0, 1, { seed: 3 });
    const dot = (m: number, n: number) => T.sum(T.mul(A.rope(q, { offset: m }), A.rope(k, { offset: n }))).itemSync();
    expect(dot(7, 3)).toBeCloseTo(dot(104, 100), 4);
    expect(dot(7, 3)).not.toBeCloseTo(dot(7, 5), 2);
  });
  it("scaling rules: linear divides positions; llama3 keeps high frequencies and divides low ones", () => {
    const plain = A.ropeInvFreq(64);
    const lin = A.ropeInvFreq(64, { scaling: { type: "linear", factor: 4 } });
    lin.forEach((f, i) => expect(f).toBeCloseTo(plain[i] / 4, 12));
    const l3 = A.ropeInvFreq(64, { base: 500000, scaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } });
    const p3 = A.ropeInvFreq(64, { base: 500000 });
    expect(l3[0]).toBe(p3[0]); // wavelength 2pi < 8192/4: unchanged
    expect(l3[31]).toBeCloseTo(p3[31] / 8, 15); // wavelength > 8192: divided by the factor
    const dyn = A.ropeInvFreq(64, { scaling: { type: "dynamic", factor: 2, maxPositions: 100 } }, 400);
    expect(dyn[5]).toBeLessThan(plain[5]); // base grows past maxPositions
    expect(A.ropeInvFreq(64, { scaling: { type: "dynamic", factor: 2, maxPositions: 100 } }, 50)).toEqual(plain);
  });
});

describe("ALiBi and sinusoidal positions", () => {
  it("slopes follow the paper (powers of two and the interleaved rule otherwise)", () => {
    expect(A.alibiSlopes(8)).toEqual([0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]);
    expect(A.alibiSlopes(6)).toEqual([0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]);
  });
  it("sinusoidal table values", async () => {
    const pe = (await A.sinusoidalPositions(3, 4).array()) as number[][];
    expect(pe[0]).toEqual([0, 1, 0, 1]);
    expect(pe[2][0]).toBeCloseTo(Math.sin(2), 6);
    expect(pe[2][3]).toBeCloseTo(Math.cos(2 / 100), 6);
  });
});

describe("mask builders", () => {
  it("build the documented patterns", () => {
    expect(A.slidingWindowMask(4, 4, 1, 0).arraySync()).toEqual([
      [true, false, false, false],
      [true, true, false, false],
      [false, true, true, false],
      [false, false, true, true],
    ]);
    expect(A.blockDiagonalMask(4, 2).arraySync()).toEqual([
      [true, true, false, false],
      [true, true, false, false],
      [false, false, true, true],
      [false, false, true, true],
    ]);
    expect(A.globalTokensMask(3, [1]).arraySync()).toEqual([
      [false, true, false],
      [true, true, true],
      [false, true, false],
    ]);
    expect(A.keyPaddingMask(T.tensor([[false, true]])).shape).toEqual([1, 1, 1, 2]);
    expect(A.toAdditive(T.tensor([true, false])).arraySync()).toEqual([0, -Infinity]);
  });
});

describe("tiled attention memory is O(T * block)", () => {
  it("peaks far below the reference's T x T scores at T = 2048", () => {
    const [B, H, Tn, D] = [1, 4, 2048, 16];
    const q = T.normal([B, H, Tn, D], 0, 1, { seed: 5 });
    const k = T.normal([B, H, Tn, D], 0, 1, { seed: 6 });
    const v = T.normal([B, H, Tn, D], 0, 1, { seed: 7 });
    const peak = (impl: "reference" | "tiled") => {
      T.resetPeakMemory();
      const base = T.memory().numBytes;
      T.tidy(() => {
        A.scaledDotProductAttention(q, k, v, { causal: true, implementation: impl, blockSize: 64 });
      });
      return T.memory().backends.cpu.peakBytes - base;
    };
    const scores = B * H * Tn * Tn * 4; // 64 MiB; a tiled intermediate is [B, H, Tn, 64]: 2 MiB
    const ref = peak("reference");
    const tiled = peak("tiled");
    expect(ref).toBeGreaterThanOrEqual(scores);
    expect(tiled).toBeLessThan(scores / 4);
  });
});

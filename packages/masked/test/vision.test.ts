import { describe, expect, it } from "vitest";
import { memory } from "@tessera/tensor";
import { blockwiseMask, blockwiseMaskArray, randomMask, tubeMask } from "../src";
import { flat, rows, withinBinomial } from "./helpers";

describe("randomMask (MAE random_masking)", () => {
  it("keeps exactly floor(N * (1 - ratio)) per row, as MAE's int(L * (1 - mask_ratio))", () => {
    for (const [N, ratio, keep] of [
      [196, 0.75, 49],
      [10, 0.33, 6],
      [7, 0.5, 3],
      [5, 0, 5],
      [16, 0.9, 1],
    ] as const) {
      const r = randomMask(4, N, ratio, { seed: N });
      expect(r.keep).toBe(keep);
      expect(r.idsKeep.shape).toEqual([4, keep]);
      for (const m of rows(r.mask)) expect(m.filter((v) => v === 0).length).toBe(keep);
    }
  });

  it("idsRestore is the inverse permutation of idsShuffle, idsKeep its first keep entries, mask 0 exactly there", () => {
    const r = randomMask(8, 50, 0.6, { seed: 3 });
    const sh = rows(r.idsShuffle),
      re = rows(r.idsRestore),
      kp = rows(r.idsKeep),
      m = rows(r.mask);
    for (let b = 0; b < 8; b++) {
      expect(sh[b].map((_, j) => re[b][sh[b][j]])).toEqual(Array.from({ length: 50 }, (_, j) => j));
      expect([...sh[b]].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, j) => j));
      expect(kp[b]).toEqual(sh[b].slice(0, r.keep));
      for (let n = 0; n < 50; n++) expect(m[b][n]).toBe(kp[b].includes(n) ? 0 : 1);
    }
  });

  it("masks every position equally often (each position masked with probability 1 - keep / N; 5 sigma over 4000 rows)", () => {
    const B = 4000,
      N = 20;
    const m = flat(randomMask(B, N, 0.75, { seed: 1 }).mask);
    for (let n = 0; n < N; n++) {
      let c = 0;
      for (let b = 0; b < B; b++) c += m[b * N + n];
      expect(withinBinomial(c, B, 1 - 5 / N).ok).toBe(true);
    }
  });
});

describe("blockwiseMask (BEiT MaskingGenerator)", () => {
  it("places rectangles of the drawn aspect within [minAspect, maxAspect], never exceeds numMasked, and usually reaches it", () => {
    let total = 0;
    const runs = 200;
    for (let seed = 0; seed < runs; seed++) {
      const { mask, blocks } = blockwiseMaskArray(14, 14, { numMasked: 75, seed });
      const count = mask.reduce((a, v) => a + v, 0);
      expect(count).toBeLessThanOrEqual(75);
      expect(blocks.reduce((a, b) => a + b.added, 0)).toBe(count);
      total += count;
      let before = 0;
      for (const b of blocks) {
        // area ~ uniform(minPatches, min(maxPatches, remaining)), as random.uniform(a, b) (either order)
        expect(b.area).toBeGreaterThanOrEqual(Math.min(16, 75 - before));
        expect(b.area).toBeLessThanOrEqual(Math.max(16, 75 - before));
        expect(b.added).toBeLessThanOrEqual(75 - before);
        before += b.added;
        expect(b.aspect).toBeGreaterThanOrEqual(0.3);
        expect(b.aspect).toBeLessThanOrEqual(1 / 0.3);
        expect(b.height).toBe(Math.round(Math.sqrt(b.area * b.aspect)));
        expect(b.width).toBe(Math.round(Math.sqrt(b.area / b.aspect)));
        expect(b.height).toBeLessThan(14);
        expect(b.width).toBeLessThan(14);
        for (let i = b.top; i < b.top + b.height; i++) for (let j = b.left; j < b.left + b.width; j++) expect(mask[i * 14 + j]).toBe(1);
      }
    }
    // BEiT stops early only when 10 tries in a row add nothing: the mean is close to the budget (measured 74.4).
    expect(total / runs).toBeGreaterThan(0.95 * 75);
  });

  it("returns [H, W] or [B, H, W] float32 tensors, deterministic with a seed", () => {
    const a = blockwiseMask(8, 10, { numMasked: 30, minPatches: 4, seed: 2 });
    const b = blockwiseMask(8, 10, { numMasked: 30, minPatches: 4, seed: 2 });
    expect(a.shape).toEqual([8, 10]);
    expect(flat(a)).toEqual(flat(b));
    expect(blockwiseMask(8, 10, { numMasked: 30, minPatches: 4, batch: 3, seed: 2 }).shape).toEqual([3, 8, 10]);
  });
});

describe("tubeMask (VideoMAE TubeMaskingGenerator)", () => {
  it("masks exactly floor(ratio * H * W) patches, the same in every frame", () => {
    for (const [F, H, W, ratio] of [
      [8, 14, 14, 0.9],
      [4, 3, 5, 0.5],
      [2, 7, 7, 0.75],
    ] as const) {
      const m = flat(tubeMask(F, H, W, ratio, { seed: F }));
      const P = H * W;
      const first = m.slice(0, P);
      expect(first.reduce((a, v) => a + v, 0)).toBe(Math.floor(ratio * P));
      for (let f = 1; f < F; f++) expect(m.slice(f * P, (f + 1) * P)).toEqual(first);
    }
    expect(tubeMask(4, 2, 2, 0.5, { batch: 3 }).shape).toEqual([3, 4, 2, 2]);
  });

  it("generators leave the tensor count flat", () => {
    const before = memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const r = randomMask(2, 16, 0.75, { seed: i });
      r.mask.dispose();
      r.idsKeep.dispose();
      r.idsRestore.dispose();
      r.idsShuffle.dispose();
      blockwiseMask(6, 6, { numMasked: 10, minPatches: 2, seed: i }).dispose();
      tubeMask(2, 4, 4, 0.5, { seed: i }).dispose();
    }
    expect(memory().numTensors).toBe(before);
  });
});

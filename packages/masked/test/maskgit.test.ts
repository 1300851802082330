import { describe, expect, it } from "vitest";
import { memory, normal, type Tensor } from "@tessera/tensor";
import { maskgitDecode, maskgitSchedule, MASKGIT_SCHEDULES } from "../src";
import { rows } from "./helpers";

describe("maskgitSchedule (google-research/maskgit mask_schedule.py)", () => {
  it("gives gamma at r = 0, 0.5, 1 for every kind", () => {
    const N = 256;
    const want: Record<string, [number, number, number]> = {
      cosine: [1, Math.cos(Math.PI / 4), 0],
      linear: [1, 0.5, 0],
      square: [1, 0.75, 0],
      cubic: [1, 0.875, 0],
      sqrt: [1, 1 - Math.SQRT1_2, 0],
      log: [1, 1 / 8, 0], // -log2(0.5) / log2(256)
      exp: [1 - 1 / N, 1 - 1 / 16, 0], // 1 - 2^(-8 (1 - r))
    };
    for (const kind of MASKGIT_SCHEDULES) {
      const g = maskgitSchedule(kind, { totalTokens: N });
      [0, 0.5, 1].forEach((r, i) => expect(g(r), `${kind}(${r})`).toBeCloseTo(want[kind][i], 10));
    }
  });
});

/** A fake model: random logits over 16 tokens, counting its calls. */
function fakeModel(V = 16) {
  const calls: number[][][] = [];
  const model = (ids: Tensor) => {
    calls.push(ids.arraySync(2));
    return normal([ids.shape[0], ids.shape[1], V], 0, 2, { seed: calls.length });
  };
  return { model, calls };
}

describe("maskgitDecode (parallel_decode.py)", () => {
  it("calls the model exactly `steps` times; masked counts follow the schedule with the at-least-one rule", async () => {
    for (const [length, steps, schedule] of [
      [64, 8, "cosine"],
      [16, 12, "linear"],
      [10, 4, "cubic"],
      [5, 8, "cosine"],
    ] as const) {
      const { model, calls } = fakeModel();
      const r = await maskgitDecode(model, { length, steps, schedule, maskTokenId: 16, seed: 3, batch: 2, returnHistory: true });
      expect(calls.length).toBe(steps);
      const g = maskgitSchedule(schedule);
      let unknown: number = length;
      const hist = r.history!.map((h) => rows(h));
      for (let t = 0; t < steps; t++) {
        const expected = t === steps - 1 ? 0 : Math.max(1, Math.min(unknown - 1, Math.floor(length * Math.max(1e-6, g((t + 1) / steps)))));
        expect(r.maskedPerStep[t]).toBe(expected);
        for (const row of hist[t]) expect(row.filter((v) => v === 16).length).toBe(expected);
        // The model saw, at step t, the state after step t - 1.
        for (const row of calls[t]) expect(row.filter((v) => v === 16).length).toBe(t === 0 ? length : r.maskedPerStep[t - 1]);
        unknown = expected;
      }
      expect(rows(r.tokens)).toEqual(hist[steps - 1]);
      expect(
        rows(r.tokens)
          .flat()
          .every((v) => v >= 0 && v < 16),
      ).toBe(true);
    }
  });

  it("never changes a decoded token afterwards", async () => {
    const { model } = fakeModel();
    const r = await maskgitDecode(model, { length: 32, steps: 8, maskTokenId: 16, seed: 5, batch: 3, returnHistory: true });
    const hist = r.history!.map((h) => rows(h));
    for (let t = 1; t < hist.length; t++) {
      hist[t - 1].forEach((row, b) => row.forEach((v, i) => v !== 16 && expect(hist[t][b][i]).toBe(v)));
    }
  });

  it("is deterministic with a seed, and a class token is prepended and kept", async () => {
    const a = await maskgitDecode(fakeModel().model, { length: 20, maskTokenId: 16, seed: 9 });
    const b = await maskgitDecode(fakeModel().model, { length: 20, maskTokenId: 16, seed: 9 });
    expect(rows(a.tokens)).toEqual(rows(b.tokens));
    const { model, calls } = fakeModel(24);
    const c = await maskgitDecode(model, { length: 6, steps: 3, maskTokenId: 16, seed: 1, classLabel: [3, 5], classTokenOffset: 17, vocabSize: 16 });
    expect(c.tokens.shape).toEqual([2, 6]);
    for (const call of calls) expect(call.map((row) => row[0])).toEqual([20, 22]);
    expect(
      rows(c.tokens)
        .flat()
        .every((v) => v < 16),
    ).toBe(true);
  });

  it("leaves the tensor count flat", async () => {
    const { model } = fakeModel();
    const before = memory().numTensors;
    for (let i = 0; i < 5; i++) (await maskgitDecode(model, { length: 12, steps: 4, maskTokenId: 16, seed: i })).tokens.dispose();
    expect(memory().numTensors).toBe(before);
  });
});

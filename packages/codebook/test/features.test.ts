/**
 * Codebook features: k = 1 with cosine similarity is nearest-code VQ; the input gradient is the
 * identity and the codebook gets the chosen codes' gradient; top-k means; interventions
 * (disable, force) and recording.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as C from "../src/index";

describe("CodebookFeatures", () => {
  it("k = 1, cosine: the nearest code by cosine (the reference's unit test); STE to x; gradient to the chosen codes", async () => {
    const cf = new C.CodebookFeatures({ dim: 8, numCodes: 50, k: 1, similarity: "cosine", seed: 3 });
    const x = T.normal([2, 7, 8], 0, 1, { seed: 1 });
    const y = cf.forward(x);
    const idx = C.nearestCode(T.reshape(x, [14, 8]), cf.codebook, { metric: "cosine" });
    expect(Array.from(cf.lastIndices!.dataSync())).toEqual(Array.from(idx.dataSync()));
    await assertClose(y, T.reshape(T.embedding(cf.codebook, idx), [2, 7, 8]), { atol: 1e-6, rtol: 0 });
    const g = T.normal([2, 7, 8], 0, 1, { seed: 2 });
    const { grads } = T.gradients(() => T.sum(T.mul(cf.forward(x), g)), { x, codebook: cf.codebook });
    await assertClose(grads.x, g, { atol: 1e-6, rtol: 0 });
    const used = new Set(Array.from(idx.dataSync()));
    const gc = grads.codebook.arraySync() as number[][];
    for (let c = 0; c < 50; c++) expect(gc[c].some((v) => v !== 0)).toBe(used.has(c));
  });

  it("top-k mean of codes; disable and force interventions; recording counts", async () => {
    const cf = new C.CodebookFeatures({ dim: 4, numCodes: 20, k: 3, seed: 5 });
    const x = T.normal([6, 4], 0, 1, { seed: 4 });
    const y = cf.forward(x);
    const idx = cf.lastIndices!.arraySync() as number[][];
    const code = cf.codebook.arraySync() as number[][];
    await assertClose(y, T.tensor(idx.map((row) => [0, 1, 2, 3].map((d) => (code[row[0]][d] + code[row[1]][d] + code[row[2]][d]) / 3))), { atol: 1e-6, rtol: 1e-6 });
    const top = idx[0][0];
    cf.disable.add(top);
    cf.forward(x);
    expect((cf.lastIndices!.arraySync() as number[][])[0]).not.toContain(top);
    cf.disable.clear();
    cf.force = 17;
    cf.record = true;
    cf.forward(x);
    for (const row of cf.lastIndices!.arraySync() as number[][]) expect(row[2]).toBe(17);
    expect(cf.counts[17]).toBe(6);
    expect(cf.activeCodes()).toBeGreaterThan(1);
    expect(cf.reconstruction!.itemSync()).toBeGreaterThan(0);
    expect(() => new C.CodebookFeatures({ dim: 4, numCodes: 2, k: 3 })).toThrow(/k must be an integer in \[1, numCodes = 2\]/);
  });
});

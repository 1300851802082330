import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as C from "../src/index";

describe("large inputs", () => {
  it("search and k-means over more rows than one score matrix holds stay bounded and agree with small chunks", () => {
    const x = T.normal([70000, 4], 0, 1, { seed: 1 });
    const E = T.normal([300, 4], 0, 1, { seed: 2 });
    const idx = C.nearestCode(x, E); // 70000 x 300 = 21M scores: two row chunks
    const head = C.nearestCode(T.narrow(x, 0, 60000, 10000), E);
    expect(Array.from(idx.dataSync().subarray(60000))).toEqual(Array.from(head.dataSync()));
    const r = C.kmeans(x, 300, { iters: 2, seed: 1 });
    expect(Array.from(r.counts.dataSync()).reduce((a, b) => a + b, 0)).toBe(70000);
  });
});

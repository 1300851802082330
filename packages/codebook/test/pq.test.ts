/**
 * Product quantization: codes round-trip to the nearest centroids, ADC distances equal the
 * distances to the decoded vectors, and recall@10 against brute force on clustered data.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import * as C from "../src/index";

describe("ProductQuantizer", () => {
  it("ADC = distance to the decoded vectors; 1-recall@10 and 10-recall@10 vs brute force on low-rank embeddings", () => {
    const [N, d, Q] = [2000, 32, 50];
    // Embeddings on a low-dimensional manifold (rank 4 in 32-d, small noise): neighbours are meaningful.
    const A = T.normal([4, d], 0, 1, { seed: 1 });
    const pick = (n: number, seed: number) => T.add(T.matmul(T.normal([n, 4], 0, 1, { seed }), A), T.normal([n, d], 0, 0.05, { seed: seed + 7 }));
    const base = pick(N, 2);
    const queries = pick(Q, 3);
    const pq = new C.ProductQuantizer({ dim: d, subspaces: 8, centroids: 256, seed: 4 }).fit(base);
    const codes = pq.encode(base);
    expect(codes.length).toBe(N * 8);
    const decoded = pq.decode(codes);
    const r = pq.search(queries, codes, 10);
    const qv = queries.dataSync();
    // ADC distance = squared distance between the query and the decoded vector.
    for (let a = 0; a < 3; a++) {
      const i = r.indices[a * 10];
      let s = 0;
      for (let j = 0; j < d; j++) s += (qv[a * d + j] - decoded[i * d + j]) ** 2;
      expect(r.distances[a * 10]).toBeCloseTo(s, 2);
    }
    // Recall@10: how many of the true 10 nearest neighbours the PQ search returns.
    const bv = base.dataSync();
    let hits = 0;
    let firstFound = 0; // 1-recall@10: the true nearest neighbour is among the 10 returned
    for (let a = 0; a < Q; a++) {
      const exact = Array.from({ length: N }, (_, i) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += (qv[a * d + j] - bv[i * d + j]) ** 2;
        return [i, s] as const;
      })
        .sort((x, y) => x[1] - y[1])
        .slice(0, 10)
        .map((p) => p[0]);
      const got = new Set(Array.from(r.indices.subarray(a * 10, a * 10 + 10)));
      hits += exact.filter((i) => got.has(i)).length;
      if (got.has(exact[0])) firstFound++;
    }
    const recall = hits / (Q * 10);
    const recall1 = firstFound / Q;
    console.log(`PQ (8 subspaces x 256 codes: 8 bytes per 32-d vector, 16x smaller): 10-recall@10 ${recall.toFixed(3)}, 1-recall@10 ${recall1.toFixed(3)}`);
    expect(recall1).toBeGreaterThanOrEqual(0.9);
    expect(recall).toBeGreaterThan(0.5);
    expect(() => new C.ProductQuantizer({ dim: 30, subspaces: 8 })).toThrow(/subspaces 8 must divide dim 30/);
    expect(() => new C.ProductQuantizer({ dim: 32, subspaces: 8 }).encode(base)).toThrow(/call fit\(\) first/);
  });
});

/**
 * Weight VQ at 2 bits per weight (256 codes of 4 weights): the table-lookup product equals
 * x @ dequantize(W)^T; JLCM-style grouped codebooks lower the error of one codebook; VQ4DiT's
 * calibrated candidate weights lower the output error of plain k-means assignment.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as C from "../src/index";

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

describe("weight VQ", () => {
  // Rows with different scales (as real layers have), so grouping by row statistics matters.
  const W = T.mul(T.normal([64, 128], 0, 1, { seed: 1 }), T.reshape(T.tensor(Float32Array.from({ length: 64 }, (_, n) => 0.2 + (n % 8) * 0.4)), [64, 1]));

  it("2 bits per weight: the lookup product equals x @ dequantize(W)^T; grouped codebooks beat one", async () => {
    const q = C.weightVQ(W, { vec: 4, codes: 256, seed: 2 });
    expect(q.indices.length).toBe((64 * 128) / 4);
    const x = T.normal([3, 128], 0, 1, { seed: 3 });
    const dense = T.tensor(C.dequantizeVQ(q), { shape: [64, 128] });
    await assertClose(C.vqLinear(x, q), T.linear(x, dense), { atol: 1e-4, rtol: 1e-5 });
    const single = relErr(C.dequantizeVQ(q), W.dataSync());
    const grouped = relErr(C.dequantizeVQ(C.weightVQ(W, { vec: 4, codes: 256, groups: 4, seed: 2 })), W.dataSync());
    console.log(`weight VQ 2 bits/weight: relative error one codebook ${single.toFixed(4)}, 4 JLCM groups ${grouped.toFixed(4)}`);
    expect(grouped).toBeLessThan(single);
  });

  it("VQ4DiT calibration lowers the layer's output error of k-means assignment (calibration and held-out inputs)", () => {
    const q = C.weightVQ(W, { vec: 4, codes: 64, seed: 4 });
    // Correlated inputs (rank 16 plus noise), as real activations: calibration can use their structure.
    const A = T.normal([16, 128], 0, 1, { seed: 7 });
    const inputs = (n: number, seed: number) => T.add(T.matmul(T.normal([n, 16], 0, 1, { seed }), A), T.normal([n, 128], 0, 0.1, { seed: seed + 1 }));
    const xCal = inputs(1024, 5);
    const xTest = inputs(512, 50);
    const cal = C.calibrateVQ4DiT(q, W, xCal, { candidates: 4, steps: 150 });
    const err = (wq: C.WeightVQ, x: T.Tensor) => relErr(C.vqLinear(x, wq).dataSync(), T.linear(x, W).dataSync());
    const [k0, k1] = [err(q, xCal), err(q, xTest)];
    const [c0, c1] = [err(cal, xCal), err(cal, xTest)];
    console.log(`VQ4DiT output error: k-means ${k0.toFixed(4)} / ${k1.toFixed(4)}, calibrated ${c0.toFixed(4)} / ${c1.toFixed(4)} (calibration / held-out)`);
    expect(c0).toBeLessThan(k0);
    expect(c1).toBeLessThan(k1);
    expect(() => C.weightVQ(T.zeros([4, 6]), { vec: 4 })).toThrow(/multiple of vec = 4/);
  });
});

/**
 * Vector quantization against definitions: estimators' values and gradients, one EMA step by
 * hand, blocked search = full search, k-means, and codebook usage on clustered data placed away
 * from where the codes start (plain EMA collapses; k-means init and dead-code restart use >= 95%).
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import * as C from "../src/index";

describe("gradient estimators", () => {
  it("straight-through: value q, gradient the identity", async () => {
    const x = T.normal([4, 3], 0, 1, { seed: 1 });
    const q = T.normal([4, 3], 0, 1, { seed: 2 });
    await assertClose(C.straightThrough(x, q), q, { atol: 1e-6, rtol: 0 });
    const g = T.normal([4, 3], 0, 1, { seed: 3 });
    const [dx] = T.grad((a: T.Tensor) => T.sum(T.mul(C.straightThrough(a, q), g)))(x);
    await assertClose(dx, g, { atol: 1e-6, rtol: 0 });
  });

  it("rotation trick: value q; gradient |q|/|x| (g - 2 (g.w) w + 2 (g.q^) u) as defined", async () => {
    const x = T.normal([5, 4], 0, 1, { seed: 4 });
    const q = T.normal([5, 4], 0, 1, { seed: 5 });
    await assertClose(C.rotationTrick(x, q), q, { atol: 1e-5, rtol: 1e-5 });
    const g = T.normal([5, 4], 0, 1, { seed: 6 });
    const [dx] = T.grad((a: T.Tensor) => T.sum(T.mul(C.rotationTrick(a, q), g)))(x);
    const xv = x.arraySync() as number[][];
    const qv = q.arraySync() as number[][];
    const gv = g.arraySync() as number[][];
    const want = xv.map((xr, i) => {
      const nx = Math.hypot(...xr);
      const nq = Math.hypot(...qv[i]);
      const u = xr.map((v) => v / nx);
      const qh = qv[i].map((v) => v / nq);
      const s = u.map((v, j) => v + qh[j]);
      const ns = Math.hypot(...s);
      const w = s.map((v) => v / ns);
      const gw = gv[i].reduce((a, v, j) => a + v * w[j], 0);
      const gq = gv[i].reduce((a, v, j) => a + v * qh[j], 0);
      return gv[i].map((v, j) => (nq / nx) * (v - 2 * gw * w[j] + 2 * gq * u[j]));
    });
    await assertClose(dx, T.tensor(want), { atol: 1e-5, rtol: 1e-4 });
  });
});

describe("search and k-means", () => {
  it("an empty codebook is an error naming nearestCode (not the argmax inside it)", () => {
    expect(() => C.nearestCode(T.ones([5, 4]), T.zeros([0, 4]))).toThrow("nearestCode: codebook [0,4] has no codes: nothing to search");
  });

  it("blocked search equals full search (euclidean and cosine); k-means lowers the inertia", async () => {
    const x = T.normal([300, 8], 0, 1, { seed: 1 });
    const E = T.normal([1000, 8], 0, 1, { seed: 2 });
    for (const metric of ["euclidean", "cosine"] as const) {
      const full = C.nearestCode(x, E, { metric, blockSize: 100000 }).dataSync();
      const blocked = C.nearestCode(x, E, { metric, blockSize: 64 }).dataSync();
      expect(Array.from(blocked)).toEqual(Array.from(full));
    }
    // Brute force in JS for the euclidean case.
    const xv = x.arraySync() as number[][];
    const ev = E.arraySync() as number[][];
    const brute = xv.map(
      (r) =>
        ev.reduce(
          (best, e, k) => {
            const d = e.reduce((s, v, j) => s + (v - r[j]) ** 2, 0);
            return d < best[1] ? [k, d] : best;
          },
          [0, Infinity],
        )[0],
    );
    expect(Array.from(C.nearestCode(x, E).dataSync())).toEqual(brute);
    const one = C.kmeans(x, 16, { iters: 1, seed: 3 });
    const ten = C.kmeans(x, 16, { iters: 10, seed: 3 });
    expect(ten.inertia).toBeLessThan(one.inertia);
    expect(C.kmeans(x, 16, { iters: 10, seed: 3 }).inertia).toBe(ten.inertia); // seeded
    expect(() => C.kmeans(T.zeros([3, 2]), 4)).toThrow(/needs at least K = 4 points, got 3/);
  });
});

describe("VectorQuantizer", () => {
  it("one seed, one stream: the same seed gives the same codebook and projections; no part starts with another's draws, across seeds too", () => {
    const build = (seed: number) => new C.VectorQuantizer({ dim: 24, codebookSize: 16, codebookDim: 8, seed });
    const parts = (vq: C.VectorQuantizer) => [vq.embed, vq.projectIn?.weight, vq.projectOut?.weight].map((t) => Array.from((t as T.Tensor).dataSync()));
    const models = [build(5), build(5), build(6)];
    const [a, again, next] = models.map(parts);
    expect(again).toEqual(a);
    // A stream started again repeats its first draws (at any scale): their signs would match (chance 2^-32).
    // Seeds 5 and 6 must not share one either (seed + 1 for a part aliased the next seed's stream).
    const signs = [...a, ...next].map((v) =>
      v
        .slice(0, 32)
        .map((x) => (x > 0 ? "+" : "-"))
        .join(""),
    );
    expect(new Set(signs).size).toBe(6);
    for (const m of models) m.dispose();
  });

  it("a training batch with NaN or inf is an error before the EMA codebook changes (cpu)", () => {
    const vq = new C.VectorQuantizer({ dim: 4, codebookSize: 8, kmeansInit: true, deadCodeThreshold: 0.5, seed: 3 });
    vq.train();
    vq.forward(T.normal([64, 4], 0, 1, { seed: 1 })); // k-means init + one EMA step
    const before = Array.from(vq.embed.dataSync());
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const x = T.normal([16, 4], 0, 1, { seed: 2 }).dataSync().slice();
      x[9] = bad;
      expect(() => vq.forward(T.tensor(x, { shape: [16, 4] }))).toThrow(
        "VectorQuantizer: training batch [16,4] holds NaN or inf: the EMA codebook / k-means update would make the codebook non-finite for good (nothing was updated)",
      );
      expect(Array.from(vq.embed.dataSync())).toEqual(before);
    }
    // Finite batches train as before; evaluation does not check (no update happens).
    vq.forward(T.normal([16, 4], 0, 1, { seed: 4 }));
    expect(Array.from(vq.embed.dataSync()).every(Number.isFinite)).toBe(true);
    vq.eval();
    expect(() => vq.forward(T.tensor([Number.NaN, 0, 0, 0], { shape: [1, 4] }))).not.toThrow();
  });

  it("one EMA step matches the hand computation (decay, Laplace smoothing)", async () => {
    const vq = new C.VectorQuantizer({ dim: 2, codebookSize: 2, decay: 0.5, eps: 0.1, gradient: "ste" });
    T.assign(
      vq.embed,
      T.tensor([
        [0, 0],
        [10, 10],
      ]),
    );
    T.assign(
      vq.embedAvg!,
      T.tensor([
        [0, 0],
        [10, 10],
      ]),
    );
    const x = T.tensor([
      [1, 0],
      [0, 1],
      [9, 9],
    ]);
    const out = vq.forward(x);
    expect(Array.from(out.indices.dataSync())).toEqual([0, 0, 1]);
    // N = 0.5 * [1, 1] + 0.5 * [2, 1] = [1.5, 1];  m = 0.5 * [[0,0],[10,10]] + 0.5 * [[1,1],[9,9]]
    const N = [1.5, 1];
    const m = [
      [0.5, 0.5],
      [9.5, 9.5],
    ];
    const tot = 2.5;
    const sm = N.map((n) => ((n + 0.1) / (tot + 0.2)) * tot);
    await assertClose(vq.clusterSize!, T.tensor(N), { atol: 1e-6, rtol: 0 });
    await assertClose(vq.embed, T.tensor(m.map((r, i) => r.map((v) => v / sm[i]))), { atol: 1e-6, rtol: 1e-6 });
    // The output used the codebook from before the update.
    await assertClose(
      out.quantized,
      T.tensor([
        [0, 0],
        [0, 0],
        [10, 10],
      ]),
      { atol: 1e-6, rtol: 0 },
    );
    expect(out.commitment.itemSync()).toBeCloseTo((1 + 1 + 2) / 6, 6);
  });

  it("usage on clustered data away from the initial codes: EMA alone collapses, k-means init and dead-code restart use >= 95%", () => {
    const K = 64;
    const centres = T.add(T.mul(T.normal([K, 16], 0, 1, { seed: 7 }), 3), 10); // far from the init near 0
    const batch = (s: number) => {
      const idx = T.randint(0, K, [512], { seed: s, dtype: "int32" });
      return T.add(T.gather(centres, 0, T.expand(T.reshape(idx, [512, 1]), [512, 16])), T.normal([512, 16], 0, 0.1, { seed: s + 1000 }));
    };
    const usage = (opts: Partial<C.VectorQuantizerOptions>) => {
      const vq = new C.VectorQuantizer({ dim: 16, codebookSize: K, seed: 3, ...opts });
      for (let s = 0; s < 30; s++) T.tidy(() => void vq.forward(batch(s)));
      vq.eval();
      return T.tidy(() => vq.forward(batch(999)).stats!.usage);
    };
    const plain = usage({});
    const km = usage({ kmeansInit: true });
    const restart = usage({ deadCodeThreshold: 2 });
    console.log(`codebook usage on clustered data: EMA ${(plain * 100).toFixed(1)}%, k-means init ${(km * 100).toFixed(1)}%, dead-code restart ${(restart * 100).toFixed(1)}%`);
    expect(plain).toBeLessThan(0.2);
    expect(km).toBeGreaterThanOrEqual(0.95);
    expect(restart).toBeGreaterThanOrEqual(0.95);
  });

  it("a gradient-learned codebook gets gradient from the codebook loss; projections and errors", () => {
    const vq = new C.VectorQuantizer({ dim: 6, codebookSize: 8, codebookDim: 3, ema: false, gradient: "ste" });
    const x = T.normal([10, 6], 0, 1, { seed: 1 });
    const { grads } = T.gradients(() => vq.forward(x).loss, vq.namedParameters());
    expect(Object.keys(grads).sort()).toEqual(["embed", "projectIn.bias", "projectIn.weight", "projectOut.bias", "projectOut.weight"]);
    expect(Math.max(...Array.from(grads.embed.dataSync(), Math.abs))).toBeGreaterThan(0);
    const out = vq.forward(T.normal([2, 5, 6], 0, 1, { seed: 2 }));
    expect(out.quantized.shape).toEqual([2, 5, 6]);
    expect(out.indices.shape).toEqual([2, 5]);
    expect(vq.codesFromIndices(out.indices).shape).toEqual([2, 5, 6]);
    expect(() => vq.forward(T.zeros([2, 5]))).toThrow(/must end in dim = 6/);
  });
});

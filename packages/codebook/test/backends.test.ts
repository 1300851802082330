/**
 * The codebook ops on the webgpu backend (SwiftShader in CI): search (blocked and full), k-means,
 * the VQ forward with its EMA update, FSQ and codebook features give the cpu's results.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, probeTestBackend } from "@tessera/tensor/testing";
import * as C from "../src/index";
import "../src/webgpu"; // registers the fused WGSL search (what `import "@tessera/codebook/webgpu"` does)

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)

describe.skipIf(!webgpu.available)("codebook on webgpu", () => {
  const on = (t: T.Tensor) => T.toBackend(t, "webgpu");

  it("nearest-code search (fused WGSL kernel; GEMM full and blocked; euclidean and cosine) equals the cpu's", async () => {
    const x = T.normal([200, 16], 0, 1, { seed: 1 });
    const E = T.normal([700, 16], 0, 1, { seed: 2 });
    for (const metric of ["euclidean", "cosine"] as const) {
      const want = Array.from(C.nearestCode(x, E, { metric }).dataSync());
      for (const blockSize of [4096, 128]) {
        const got = C.nearestCode(on(x), on(E), { metric, blockSize, implementation: "gemm" });
        expect(got.backend).toBe("webgpu");
        expect(Array.from(await got.data())).toEqual(want);
      }
      T.resetKernelStats();
      const fused = C.nearestCode(on(x), on(E), { metric }); // the fused WGSL kernel (default on webgpu)
      expect(T.kernelStats().kernel[`${C.NEAREST_CODE}/webgpu`]).toBe(1);
      expect(Array.from(await fused.data())).toEqual(want);
    }
  });

  it("a Lloyd step, the VQ forward with its EMA update, FSQ and codebook features equal the cpu's", async () => {
    const x = T.normal([256, 8], 0, 1, { seed: 3 });
    const c0 = T.normal([16, 8], 0, 1, { seed: 4 });
    const a = C.lloydStep(x, c0);
    const b = C.lloydStep(on(x), on(c0));
    await assertClose(b.centres, a.centres, { atol: 1e-5, rtol: 1e-5 });
    const mk = (backend: string) => new C.VectorQuantizer({ dim: 8, codebookSize: 16, gradient: "ste", seed: 5, backend });
    const [vc, vg] = [mk("cpu"), mk("webgpu")];
    const rc = vc.forward(x);
    const rg = vg.forward(on(x));
    expect(Array.from(await rg.indices.data())).toEqual(Array.from(rc.indices.dataSync()));
    await assertClose(rg.quantized, rc.quantized, { atol: 1e-5, rtol: 1e-5 });
    await assertClose(vg.embed, vc.embed, { atol: 1e-5, rtol: 1e-5, label: "after the EMA step" });
    const fsq = new C.FSQ([8, 5, 5, 5]);
    const z = T.normal([50, 4], 0, 1, { seed: 6 });
    expect(Array.from(await fsq.forward(on(z)).indices.data())).toEqual(Array.from(fsq.forward(z).indices.dataSync()));
    const cf = new C.CodebookFeatures({ dim: 8, numCodes: 32, k: 2, seed: 7 });
    const cfg = new C.CodebookFeatures({ dim: 8, numCodes: 32, k: 2, seed: 7, backend: "webgpu" });
    await assertClose(cfg.forward(on(x)), cf.forward(x), { atol: 1e-5, rtol: 1e-5 });
    expect(() => C.nearestCode(x, c0, { implementation: "fused" })).toThrow(/no fused kernel for backend 'cpu' \(registered for: webgpu/);
  });

  it("a NaN training batch leaves the EMA codebook as it was (the update is skipped on the device)", async () => {
    const vq = new C.VectorQuantizer({ dim: 4, codebookSize: 8, deadCodeThreshold: 0.5, seed: 3, backend: "webgpu" });
    vq.train();
    vq.forward(on(T.normal([64, 4], 0, 1, { seed: 1 })));
    const before = Array.from(await vq.embed.data());
    const x = T.normal([16, 4], 0, 1, { seed: 2 }).dataSync().slice();
    x[9] = Number.NaN;
    vq.forward(on(T.tensor(x, { shape: [16, 4] })));
    expect(Array.from(await vq.embed.data())).toEqual(before);
    vq.forward(on(T.normal([16, 4], 0, 1, { seed: 4 })));
    const after = Array.from(await vq.embed.data());
    expect(after.every(Number.isFinite)).toBe(true);
    expect(after).not.toEqual(before);
  });
});

/**
 * The ssm package on every backend that has landed (webgpu through SwiftShader in CI, gpujs in
 * webasm mode): PyTorch fixtures, forms against each other and gradients against the cpu's.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, useTestBackend } from "@tessera/tensor/testing";
import * as S from "../src/index";
import { fixture, maxAbs } from "./helpers";

for (const backend of ["webgpu", "gpujs"] as const) {
  describe(`ssm on ${backend}`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
    }, 60_000);
    const on = (t: T.Tensor) => T.toBackend(t, backend);

    it("selective scan: PyTorch fixture with every implementation this backend has", async () => {
      const f = fixture("ops", "ops.safetensors");
      const [u, delta, A, B, C, D, z, bias] = [f.ss_u, f.ss_delta, f.ss_A, f.ss_B, f.ss_C, f.ss_D, f.ss_z, f.ss_delta_bias].map(on);
      const impls = backend === "webgpu" ? (["reference", "chunked", "associative", "fused"] as const) : (["reference", "chunked", "associative"] as const);
      for (const implementation of impls) {
        const r = S.selectiveScan(u, delta, A, B, C, { D, z, deltaBias: bias, deltaSoftplus: true, implementation, chunkSize: 8 });
        expect(r.y.backend).toBe(backend);
        await assertClose(r.y, f.ss_out, { atol: 1e-5 * maxAbs(f.ss_out), rtol: 0, label: `${implementation} out` });
        await assertClose(r.lastState, f.ss_last_state, { atol: 1e-5 * maxAbs(f.ss_last_state), rtol: 0, label: `${implementation} state` });
      }
      if (backend === "gpujs") expect(() => S.selectiveScan(u, delta, A, B, C, { implementation: "fused" })).toThrow(/no fused kernel for backend 'gpujs'/);
    });

    it("selective scan gradients match the cpu's (grouped B/C, several segments)", async () => {
      const shapes: [number[], number, number][] = [[[2, 4, 70], 1, 1], [[2, 4, 70], 2, 0.5], [[4, 3], 3, 0.5], [[2, 2, 3, 70], 4, 1], [[2, 2, 3, 70], 5, 1], [[4], 6, 1], [[2, 4, 70], 7, 1], [[4], 8, 0.1], [[2, 4, 3], 9, 1]];
      const mk = (be: string) => shapes.map(([s, seed, sc], i) => {
        const x = T.mul(T.normal(s, 0, 1, { seed, backend: be }), sc);
        return i === 2 ? T.neg(T.exp(x)) : x;
      });
      const f = (implementation: S.SelectiveScanImplementation) => (u: T.Tensor, delta: T.Tensor, A: T.Tensor, B: T.Tensor, C: T.Tensor, D: T.Tensor, z: T.Tensor, bias: T.Tensor, h0: T.Tensor) => {
        const r = S.selectiveScan(u, delta, A, B, C, { D, z, deltaBias: bias, deltaSoftplus: true, initialState: h0, implementation });
        return T.add(T.sum(T.mul(r.y, u)), T.sum(T.square(r.lastState)));
      };
      const gc = T.grad(f("reference") as (...x: T.Tensor[]) => T.Tensor)(...mk("cpu"));
      const impl = backend === "webgpu" ? "fused" : "chunked";
      const g = T.grad(f(impl) as (...x: T.Tensor[]) => T.Tensor)(...mk(backend));
      for (let i = 0; i < g.length; i++) {
        expect(g[i].backend).toBe(backend);
        await assertClose(g[i], gc[i], { atol: 1e-4 * Math.max(1, maxAbs(gc[i])), rtol: 1e-4, label: `${impl} grad ${i}` });
      }
    });
  });
}

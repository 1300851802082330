/**
 * The ssm package on every backend that has landed (webgpu through SwiftShader in CI, gpujs in
 * webasm mode): PyTorch fixtures, forms against each other and gradients against the cpu's.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, probeTestBackend } from "@tessera/tensor/testing";
import * as S from "../src/index";
import "../src/webgpu"; // registers the WGSL scan (what `import "@tessera/ssm/webgpu"` does)
import { fixture, inPieces, maxAbs, stepwise } from "./helpers";

for (const backend of ["webgpu", "gpujs"] as const) {
  const status = await probeTestBackend(backend); // webgpu: skipped with a printed reason when no adapter (never in CI)
  describe.skipIf(!status.available)(`ssm on ${backend}`, () => {
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
      const shapes: [number[], number, number][] = [
        [[2, 4, 70], 1, 1],
        [[2, 4, 70], 2, 0.5],
        [[4, 3], 3, 0.5],
        [[2, 2, 3, 70], 4, 1],
        [[2, 2, 3, 70], 5, 1],
        [[4], 6, 1],
        [[2, 4, 70], 7, 1],
        [[4], 8, 0.1],
        [[2, 4, 3], 9, 1],
      ];
      const mk = (be: string) =>
        shapes.map(([s, seed, sc], i) => {
          const x = T.mul(T.normal(s, 0, 1, { seed, backend: be }), sc);
          return i === 2 ? T.neg(T.exp(x)) : x;
        });
      const f =
        (implementation: S.SelectiveScanImplementation) =>
        (u: T.Tensor, delta: T.Tensor, A: T.Tensor, B: T.Tensor, C: T.Tensor, D: T.Tensor, z: T.Tensor, bias: T.Tensor, h0: T.Tensor) => {
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

    it("retention, linear recurrences and SSD: PyTorch fixture and forms agree with the cpu", async () => {
      const f = fixture("ops", "ops.safetensors");
      const [q, k, v] = [f.q, f.k, f.v].map(on);
      for (const form of ["parallel", "recurrent", "chunkwise"] as const) {
        await assertClose(S.retention(q, k, v, { scale: 1, form, chunkSize: 8 }).o, f.retention, { atol: 1e-5 * maxAbs(f.retention), rtol: 0, label: `retention ${form}` });
      }
      const rc = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed, backend: "cpu" });
      const [qc, kc, vc] = [rc([1, 2, 19, 4], 1), T.div(rc([1, 2, 19, 4], 2), 2), rc([1, 2, 19, 3], 3)];
      const g = T.div(T.logSigmoid(rc([1, 2, 19], 4)), 3);
      const gk = T.div(T.logSigmoid(rc([1, 2, 19, 4], 5)), 3);
      const beta = T.sigmoid(rc([1, 2, 19], 6));
      const cases: [string, (a: T.Tensor[]) => T.Tensor][] = [
        ["simpleGla", ([a, b, c, d]) => S.simpleGla(a, b, c, d, { chunkSize: 8 }).o],
        ["gla", ([a, b, c, , e]) => S.gla(a, b, c, e, { chunkSize: 8 }).o],
        ["deltaRule", ([a, b, c, d, , f2]) => S.deltaRule(a, b, c, f2, { g: d, chunkSize: 8 }).o],
      ];
      for (const [name, fn] of cases) {
        const ref = fn([qc, kc, vc, g, gk, beta]);
        await assertClose(fn([qc, kc, vc, g, gk, beta].map(on)), ref, { atol: 1e-5 * maxAbs(ref), rtol: 1e-5, label: name });
      }
    });

    it("every token mixer: forward on this backend = the cpu's; pieces and steps agree", async () => {
      const make: [string, (be: string) => T.TokenMixer & T.Module][] = [
        ["mamba", (be) => new S.MambaMixer({ backend: be, dModel: 8, dState: 4, seed: 1 })],
        ["mamba2", (be) => new S.Mamba2Mixer({ backend: be, dModel: 8, dState: 4, headDim: 4, chunkSize: 4, seed: 1 })],
        ["retnet", (be) => new S.MultiScaleRetention({ backend: be, dModel: 8, numHeads: 2, chunkSize: 4, seed: 1 })],
        ["gla", (be) => new S.GatedLinearAttention({ backend: be, dModel: 8, numHeads: 2, chunkSize: 4, gateLowRankDim: 4, seed: 1 })],
        ["gated deltanet", (be) => new S.DeltaNet({ backend: be, dModel: 8, numHeads: 2, chunkSize: 4, gated: true, seed: 1 })],
        ["s4d", (be) => new S.S4D({ backend: be, dModel: 8, dState: 8, seed: 1 })],
        ["lmu", (be) => new S.LMU({ backend: be, dModel: 8, order: 6, theta: 8, seed: 1 })],
        ["titans memory", (be) => new S.NeuralMemory({ backend: be, dModel: 8, numHeads: 2, ...S.MEMORY_PRESETS.titans, memory: { mlp: { hidden: 4 } }, chunkSize: 4, seed: 1 })],
      ];
      const xc = T.normal([2, 9, 8], 0, 1, { seed: 3, backend: "cpu" });
      for (const [name, mk] of make) {
        const cpu = mk("cpu");
        const ref = cpu.forward(xc).y;
        const m = mk(backend);
        m.loadStateDict(Object.fromEntries(Object.entries(cpu.stateDict()).map(([key, t]) => [key, on(t)])));
        const x = on(xc);
        const y = m.forward(x).y;
        expect(y.backend, name).toBe(backend);
        const tol = { atol: 2e-5 * maxAbs(ref), rtol: 2e-5 };
        await assertClose(y, ref, { ...tol, label: `${name} forward` });
        await assertClose(inPieces(m, x, [4, 5]), ref, { ...tol, label: `${name} pieces` });
        await assertClose(stepwise(m, x), ref, { ...tol, label: `${name} steps` });
      }
    });

    it("FFT convolution and gradients through a Mamba-2 mixer match the cpu's", async () => {
      const xc = T.normal([2, 37], 0, 1, { seed: 1, backend: "cpu" });
      const kc = T.normal([2, 9], 0, 1, { seed: 2, backend: "cpu" });
      await assertClose(T.fftConv(on(xc), on(kc)), T.fftConv(xc, kc), { atol: 2e-5, rtol: 1e-5 });
      const cpu = new S.Mamba2Mixer({ dModel: 8, dState: 4, headDim: 4, chunkSize: 4, seed: 2 });
      const m = new S.Mamba2Mixer({ dModel: 8, dState: 4, headDim: 4, chunkSize: 4, seed: 2, backend });
      m.loadStateDict(Object.fromEntries(Object.entries(cpu.stateDict()).map(([key, t]) => [key, on(t)])));
      const x = T.normal([1, 7, 8], 0, 1, { seed: 3, backend: "cpu" });
      const gc = T.gradients(() => T.sum(T.square(cpu.forward(x).y)), cpu.namedParameters()).grads;
      const g = T.gradients(() => T.sum(T.square(m.forward(on(x)).y)), m.namedParameters()).grads;
      for (const [name, t] of Object.entries(g)) {
        expect(t.backend).toBe(backend);
        await assertClose(t, gc[name], { atol: 1e-4 * Math.max(1, maxAbs(gc[name])), rtol: 1e-4, label: name });
      }
    });
  });
}

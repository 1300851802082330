/**
 * The selective scan: PyTorch fixture (selective_scan_ref semantics), every implementation
 * against the reference, B/C layouts, initial state continuation, one-step decoding, gradients
 * (finite differences, and the fused backward against autograd through the reference), errors.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scanLastThreads, scanWasmBuild } from "../src/selective/kernel-wasm";
import { initScanThreads, scanWasmAvailable, selectiveScan, selectiveStateUpdate, setScanWasm, type SelectiveScanImplementation } from "../src/index";
import { fixture, maxAbs } from "./helpers";

const IMPLS: SelectiveScanImplementation[] = ["reference", "chunked", "associative", "fused"];
const rn = (shape: number[], seed: number, scale = 1) => T.mul(T.normal(shape, 0, 1, { seed }), scale);

/** A random problem: A negative (S4D-real-like), small delta. */
function problem(Bb: number, Dm: number, L: number, N: number, layout: "ti" | "shared" | "grouped", seed = 1) {
  const proj = (s: number) => (layout === "ti" ? rn([Dm, N], s) : layout === "shared" ? rn([Bb, N, L], s) : rn([Bb, 2, N, L], s));
  return {
    u: rn([Bb, Dm, L], seed),
    delta: rn([Bb, Dm, L], seed + 1, 0.5),
    A: T.neg(T.exp(rn([Dm, N], seed + 2, 0.5))),
    B: proj(seed + 3),
    C: proj(seed + 4),
    D: rn([Dm], seed + 5),
    z: rn([Bb, Dm, L], seed + 6),
    deltaBias: rn([Dm], seed + 7, 0.1),
  };
}

describe("selectiveScan", () => {
  it("matches the PyTorch reference (ss_* fixture) with every implementation", async () => {
    const f = fixture("ops", "ops.safetensors");
    const tol = 1e-5 * maxAbs(f.ss_out);
    for (const implementation of IMPLS) {
      const { y, lastState } = selectiveScan(f.ss_u, f.ss_delta, f.ss_A, f.ss_B, f.ss_C, {
        D: f.ss_D,
        z: f.ss_z,
        deltaBias: f.ss_delta_bias,
        deltaSoftplus: true,
        implementation,
        chunkSize: 8,
      });
      await assertClose(y, f.ss_out, { atol: tol, rtol: 0, label: `${implementation} out` });
      await assertClose(lastState, f.ss_last_state, { atol: 1e-5 * maxAbs(f.ss_last_state), rtol: 0, label: `${implementation} state` });
    }
  });

  for (const layout of ["ti", "shared", "grouped"] as const) {
    it(`implementations agree (${layout} B/C, ragged chunks, long L)`, async () => {
      const p = problem(2, 4, 70, 3, layout);
      const ref = selectiveScan(p.u, p.delta, p.A, p.B, p.C, { D: p.D, z: p.z, deltaBias: p.deltaBias, deltaSoftplus: true, implementation: "reference" });
      for (const implementation of IMPLS.slice(1)) {
        const r = selectiveScan(p.u, p.delta, p.A, p.B, p.C, { D: p.D, z: p.z, deltaBias: p.deltaBias, deltaSoftplus: true, implementation, chunkSize: 16 });
        await assertClose(r.y, ref.y, { atol: 1e-5 * maxAbs(ref.y), rtol: 1e-5, label: `${implementation} y` });
        await assertClose(r.lastState, ref.lastState, { atol: 1e-5 * maxAbs(ref.lastState), rtol: 1e-5, label: `${implementation} state` });
      }
    });
  }

  it("without optional inputs, and the fused kernel over many checkpoints (L = 300)", async () => {
    const p = problem(1, 3, 300, 4, "shared", 9);
    const ref = selectiveScan(p.u, p.delta, p.A, p.B, p.C, { implementation: "reference" });
    const fused = selectiveScan(p.u, p.delta, p.A, p.B, p.C, { implementation: "fused" });
    await assertClose(fused.y, ref.y, { atol: 1e-5 * maxAbs(ref.y), rtol: 1e-5 });
  });

  it("scanning in two pieces with initialState equals one scan; steps equal the scan", async () => {
    const p = problem(2, 4, 12, 3, "grouped", 3);
    const o = { D: p.D, deltaBias: p.deltaBias, deltaSoftplus: true };
    const whole = selectiveScan(p.u, p.delta, p.A, p.B, p.C, { ...o, z: p.z });
    const part = (x: T.Tensor, s: number, n: number) => T.narrow(x, x.rank - 1, s, n);
    for (const implementation of IMPLS) {
      const first = selectiveScan(part(p.u, 0, 5), part(p.delta, 0, 5), p.A, part(p.B, 0, 5), part(p.C, 0, 5), { ...o, z: part(p.z, 0, 5), implementation });
      const second = selectiveScan(part(p.u, 5, 7), part(p.delta, 5, 7), p.A, part(p.B, 5, 7), part(p.C, 5, 7), {
        ...o,
        z: part(p.z, 5, 7),
        initialState: first.lastState,
        implementation,
      });
      await assertClose(T.concat([first.y, second.y], 2), whole.y, { atol: 1e-5 * maxAbs(whole.y), rtol: 1e-5, label: implementation });
      await assertClose(second.lastState, whole.lastState, { atol: 1e-5 * maxAbs(whole.lastState), rtol: 1e-5 });
    }
    let state = T.zeros([2, 4, 3]);
    const ys: T.Tensor[] = [];
    for (let t = 0; t < 12; t++) {
      const at = (x: T.Tensor) => T.select(x, x.rank - 1, t);
      const r = selectiveStateUpdate(state, at(p.u), at(p.delta), p.A, at(p.B), at(p.C), { D: p.D, z: at(p.z), dtBias: p.deltaBias, dtSoftplus: true });
      ys.push(r.y);
      state = r.state;
    }
    await assertClose(T.stack(ys, 2), whole.y, { atol: 1e-5 * maxAbs(whole.y), rtol: 1e-5, label: "step" });
    await assertClose(state, whole.lastState, { atol: 1e-5 * maxAbs(whole.lastState), rtol: 1e-5 });
  });

  it("gradients: finite differences through the chunked form; fused backward = autograd of the reference", async () => {
    const p = problem(1, 2, 6, 2, "grouped", 5);
    const h0 = rn([1, 2, 2], 11);
    const w = rn([1, 2, 6], 12);
    const ws = rn([1, 2, 2], 13);
    const loss =
      (implementation: SelectiveScanImplementation): ((...xs: T.Tensor[]) => T.Tensor) =>
      (u: T.Tensor, delta: T.Tensor, A: T.Tensor, B: T.Tensor, C: T.Tensor, D: T.Tensor, z: T.Tensor, bias: T.Tensor, s0: T.Tensor) => {
        const r = selectiveScan(u, delta, A, B, C, { D, z, deltaBias: bias, deltaSoftplus: true, initialState: s0, implementation, chunkSize: 4 });
        return T.add(T.sum(T.mul(r.y, w)), T.sum(T.mul(r.lastState, ws)));
      };
    const args = [p.u, p.delta, p.A, p.B, p.C, p.D, p.z, p.deltaBias, h0];
    await checkGrad(loss("chunked"), args, { atol: 3e-3, rtol: 3e-2 });
    const gRef = T.grad(loss("reference"))(...args);
    for (const implementation of ["fused", "associative", "chunked"] as const) {
      const g = T.grad(loss(implementation))(...args);
      for (let i = 0; i < args.length; i++) await assertClose(g[i], gRef[i], { atol: 1e-5, rtol: 1e-4, label: `${implementation} grad ${i}` });
    }
    // time-invariant and shared layouts in the fused backward
    for (const layout of ["ti", "shared"] as const) {
      const q = problem(2, 3, 40, 2, layout, 7);
      const f = (implementation: SelectiveScanImplementation) => (B: T.Tensor, C: T.Tensor, A: T.Tensor) =>
        T.sum(T.square(selectiveScan(q.u, q.delta, A, B, C, { z: q.z, deltaSoftplus: true, implementation }).y));
      const a = T.grad(f("fused"))(q.B, q.C, q.A);
      const b = T.grad(f("reference"))(q.B, q.C, q.A);
      for (let i = 0; i < 3; i++) await assertClose(a[i], b[i], { atol: 1e-4, rtol: 1e-4, label: `${layout} grad ${i}` });
    }
  });

  it("clear errors for bad shapes, dtypes and options", () => {
    const p = problem(1, 2, 5, 3, "shared");
    expect(() => selectiveScan(p.u, p.delta, p.A, T.zeros([1, 4, 5]), p.C)).toThrow(/selectiveScan: B \[1,4,5\] must be \[B, N, L\] = \[1,3,5\]/);
    expect(() => selectiveScan(p.u, T.zeros([1, 2, 4]), p.A, p.B, p.C)).toThrow(/delta \[1,2,4\] must match u \[1,2,5\]/);
    expect(() => selectiveScan(p.u, p.delta, p.A, T.zeros([1, 3, 3, 5]), p.C)).toThrow(/G dividing D = 2/);
    expect(() => selectiveScan(T.zeros([1, 2, 5], { dtype: "int32" }), p.delta, p.A, p.B, p.C)).toThrow(/u \[1,2,5\] is int32/);
    expect(() => selectiveScan(p.u, p.delta, p.A, p.B, p.C, { D: T.zeros([3]) })).toThrow(/D \[3\] must be \[D\] = \[2\]/);
    expect(() => selectiveScan(p.u, p.delta, p.A, p.B, p.C, { initialState: T.zeros([1, 2, 2]) })).toThrow(/initialState \[1,2,2\]/);
    expect(() => selectiveScan(p.u, p.delta, p.A, p.B, p.C, { implementation: "magic" as never })).toThrow(/unknown implementation 'magic'/);
    expect(() => selectiveScan(p.u, p.delta, p.A, p.B, p.C, { chunkSize: 0 })).toThrow(/chunkSize must be a positive integer/);
    expect(() => selectiveStateUpdate(T.zeros([1, 2, 3]), T.zeros([1, 3]), T.zeros([1, 2]), p.A, T.zeros([1, 3]), T.zeros([1, 3]))).toThrow(
      /selectiveStateUpdate: x \[1,3\] must be \[B, D\] = \[1,2\]/,
    );
  });
});

describe("selectiveScan cpu kernels: WebAssembly SIMD = TypeScript", () => {
  it("loads its relaxed-SIMD build exactly where wasmFeatures().relaxedSimd, else the SIMD128 build", () => {
    // selective-relaxed.test.ts reruns this file under --experimental-wasm-relaxed-simd with TESSERA_EXPECT_RELAXED_SIMD=1
    const expected = process.env.TESSERA_EXPECT_RELAXED_SIMD;
    if (expected !== undefined) expect(T.wasmFeatures().relaxedSimd).toBe(expected === "1");
    expect(scanWasmBuild()).toBe(T.wasmFeatures().relaxedSimd ? "relaxed" : "simd128");
  });
  it("forward and every gradient agree for each B/C layout (incl. D not a multiple of 4, groups of 4 and of 3)", async () => {
    expect(scanWasmAvailable()).toBe(true); // Node 20 has WebAssembly SIMD: the comparison is real
    T.setKernelPreference("reference");
    expect(scanWasmAvailable()).toBe(false);
    setScanWasm(true); // the deprecated alias of setKernelPreference("fast")
    expect(T.getKernelPreference()).toBe("fast");
    const cases: [number, "ti" | "shared" | "grouped", number][] = [
      [6, "shared", 70],
      [8, "grouped", 130],
      [5, "ti", 9],
      [6, "grouped", 40],
    ];
    for (const [Dm, layout, L] of cases) {
      const p = problem(2, Dm, L, 3, layout, Dm);
      const h0 = rn([2, Dm, 3], 3);
      const w = rn([2, Dm, L], 4);
      const f = (u: T.Tensor, delta: T.Tensor, A: T.Tensor, B: T.Tensor, C: T.Tensor, D: T.Tensor, z: T.Tensor, bias: T.Tensor, s0: T.Tensor) => {
        const r = selectiveScan(u, delta, A, B, C, { D, z, deltaBias: bias, deltaSoftplus: true, initialState: s0, implementation: "fused" });
        return T.add(T.sum(T.mul(r.y, w)), T.sum(T.square(r.lastState)));
      };
      const args = [p.u, p.delta, p.A, p.B, p.C, p.D, p.z, p.deltaBias, h0];
      const run = (wasm: boolean) => {
        return T.withKernelPreference(wasm ? "fast" : "reference", () => T.valueAndGrad(f as (...x: T.Tensor[]) => T.Tensor)(...args));
      };
      const [a, b] = [run(true), run(false)];
      await assertClose(a.value, b.value, { atol: 1e-5 * Math.abs(b.value.itemSync()), rtol: 1e-5, label: `${layout} D${Dm} value` });
      for (let i = 0; i < args.length; i++)
        await assertClose(a.grads[i], b.grads[i], { atol: 1e-5 * Math.max(1, maxAbs(b.grads[i])), rtol: 1e-4, label: `${layout} D${Dm} grad ${i}` });
    }
  });

  it("the forward on the worker pool (threads split the channels) is bit-identical to one thread, checkpoints included (gradients); small scans stay on one thread", async () => {
    // [D, layout]: an even split; D 50 (padded to 52: 13 groups of 4 over 2 threads) with h0
    for (const [Dm, layout] of [
      [64, "shared"],
      [64, "ti"],
      [64, "grouped"],
      [50, "shared"],
    ] as const) {
      const p = problem(2, Dm, 300, 16, layout, 40); // 2 * 300 * D * 16 state updates: threaded
      const h0 = rn([2, Dm, 16], 42);
      const w = rn([2, Dm, 300], 43);
      const o = { D: p.D, z: p.z, deltaBias: p.deltaBias, deltaSoftplus: true, initialState: h0, implementation: "fused" as const };
      const run = async (n: number) => {
        expect(await initScanThreads(n)).toBe(n);
        const r = selectiveScan(p.u, p.delta, p.A, p.B, p.C, o);
        expect(scanLastThreads()).toBe(n);
        // the backward recomputes states from the forward's checkpoints, written by each thread
        const g = T.grad((u: T.Tensor, A: T.Tensor) => T.sum(T.mul(selectiveScan(u, p.delta, A, p.B, p.C, o).y, w)))(p.u, p.A);
        return Promise.all([r.y, r.lastState, ...g].map((t) => t.data()));
      };
      const one = await run(1);
      const two = await run(2);
      for (let i = 0; i < one.length; i++) expect(two[i], `D ${Dm} ${layout} output ${i}`).toEqual(one[i]);
    }
    const small = problem(1, 8, 4, 4, "shared", 41);
    selectiveScan(small.u, small.delta, small.A, small.B, small.C, { implementation: "fused" });
    expect(scanLastThreads()).toBe(1);
    await expect(initScanThreads(0)).rejects.toThrow(/initScanThreads: threads must be an integer in 1..64, got 0/);
  });

  it("the embedded module is up to date with wasm/scan.ts (node scripts/build-wasm.mjs)", () => {
    const out = execFileSync("node", [join(dirname(fileURLToPath(import.meta.url)), "..", "scripts", "build-wasm.mjs"), "--check"], { encoding: "utf8" });
    expect(out).toContain("up to date");
  }, 60_000);
});

describe("selectiveStateUpdate: the fused one-token step (cpu, WebAssembly SIMD) = the composed step and the scan", () => {
  const STEP = "ssm.selectiveStateUpdate/cpu";
  const counts = () => [T.kernelStats().kernel[STEP] ?? 0, T.kernelStats().reference[STEP] ?? 0];
  /** One step's inputs: state [B, D, N]; x, dt, z [B, D]; A [D, N]; B, C [B, N] (G 0) or [B, G, N]; D, dtBias [D]. */
  function stepProblem(Bb: number, Dm: number, N: number, G: number, seed: number) {
    const proj = (s: number) => (G === 0 ? rn([Bb, N], s) : rn([Bb, G, N], s));
    return {
      state: rn([Bb, Dm, N], seed),
      x: rn([Bb, Dm], seed + 1),
      dt: rn([Bb, Dm], seed + 2, 0.5),
      z: rn([Bb, Dm], seed + 3),
      A: T.neg(T.exp(rn([Dm, N], seed + 4, 0.5))),
      B: proj(seed + 5),
      C: proj(seed + 6),
      D: rn([Dm], seed + 7),
      dtBias: rn([Dm], seed + 8, 0.1),
    };
  }
  const composed = <R>(f: () => R): R => T.withKernelPreference("reference", f);

  it("the WebAssembly module is here (Node has SIMD): the cases below run the kernel, not a fallback", () => {
    expect(scanWasmAvailable()).toBe(true);
  });

  // [B, D, N, G (0: B/C as [B, N])], with every option or none
  const cases: [number, number, number, number, boolean][] = [
    [2, 12, 16, 0, true],
    [1, 1536, 16, 0, true], // Mamba-130M's step
    [2, 12, 8, 3, true], // groups of 4 channels
    [2, 12, 16, 2, true], // groups of 6: a group boundary inside four channels
    [3, 8, 4, 0, false], // no z, D, dtBias, softplus
    [2, 10, 3, 0, true], // D and N not multiples of 4 (padded)
    [2, 10, 6, 2, true], // padded, groups of 5
  ];
  let seed = 900;
  for (const [Bb, Dm, N, G, options] of cases) {
    const s = seed;
    seed += 10;
    it(`B ${Bb}, D ${Dm}, N ${N}, ${G ? `${G} groups` : "B/C [B, N]"}, ${options ? "every option" : "no options"}: within 1e-5 of the composed step (kernel counted)`, async () => {
      const p = stepProblem(Bb, Dm, N, G, s);
      const o = options ? { D: p.D, z: p.z, dtBias: p.dtBias, dtSoftplus: true } : {};
      const [k0] = counts();
      const fused = selectiveStateUpdate(p.state, p.x, p.dt, p.A, p.B, p.C, o);
      expect(counts()[0]).toBe(k0 + 1);
      const ref = composed(() => selectiveStateUpdate(p.state, p.x, p.dt, p.A, p.B, p.C, o));
      await assertClose(fused.y, ref.y, { atol: 1e-5 * maxAbs(ref.y), rtol: 1e-5, label: "y" });
      await assertClose(fused.state, ref.state, { atol: 1e-5 * maxAbs(ref.state), rtol: 1e-5, label: "state" });
    });
  }

  it("twelve chained steps equal the reference scan over the same twelve tokens (1e-5)", async () => {
    const p = problem(2, 8, 12, 16, "shared", 950);
    const whole = selectiveScan(p.u, p.delta, p.A, p.B, p.C, { D: p.D, z: p.z, deltaBias: p.deltaBias, deltaSoftplus: true, implementation: "reference" });
    let state = T.zeros([2, 8, 16]);
    const ys: T.Tensor[] = [];
    const [k0] = counts();
    for (let t = 0; t < 12; t++) {
      const at = (x: T.Tensor) => T.select(x, x.rank - 1, t);
      const r = selectiveStateUpdate(state, at(p.u), at(p.delta), p.A, at(p.B), at(p.C), { D: p.D, z: at(p.z), dtBias: p.deltaBias, dtSoftplus: true });
      ys.push(r.y);
      state = r.state;
    }
    expect(counts()[0]).toBe(k0 + 12);
    await assertClose(T.stack(ys, 2), whole.y, { atol: 1e-5 * maxAbs(whole.y), rtol: 1e-5, label: "steps" });
    await assertClose(state, whole.lastState, { atol: 1e-5 * maxAbs(whole.lastState), rtol: 1e-5 });
  });

  it("the softplus past its threshold (dt + bias > 20), very negative dt A, dtBias without the softplus: within 1e-5", async () => {
    const p = stepProblem(2, 8, 8, 0, 960);
    const dtBig = T.add(p.dt, T.tensor([25, -30, 0, 19.5, 20.5, 3, -3, 40])); // channels on both sides of 20
    const ABig = T.mul(p.A, 50); // exp(dt A) underflows to 0 on some states
    for (const o of [
      { D: p.D, z: p.z, dtBias: p.dtBias, dtSoftplus: true },
      { D: p.D, dtBias: T.abs(p.dtBias), dtSoftplus: false },
    ]) {
      const fused = selectiveStateUpdate(p.state, p.x, dtBig, ABig, p.B, p.C, o);
      const ref = composed(() => selectiveStateUpdate(p.state, p.x, dtBig, ABig, p.B, p.C, o));
      await assertClose(fused.y, ref.y, { atol: 1e-5 * maxAbs(ref.y), rtol: 1e-5, label: "y" });
      await assertClose(fused.state, ref.state, { atol: 1e-5 * maxAbs(ref.state), rtol: 1e-5, label: "state" });
    }
  });

  it("under a gradient the composed step runs (the kernel is not even looked up); its gradients match finite differences", async () => {
    const p = stepProblem(1, 4, 4, 0, 970);
    const w = rn([1, 4], 980);
    const f = (state: T.Tensor, x: T.Tensor, dt: T.Tensor, A: T.Tensor, B: T.Tensor) => {
      const r = selectiveStateUpdate(state, x, dt, A, B, p.C, { D: p.D, z: p.z, dtBias: p.dtBias, dtSoftplus: true });
      return T.add(T.sum(T.mul(r.y, w)), T.sum(r.state));
    };
    const [k0, r0] = counts();
    T.grad(f)(p.state, p.x, p.dt, p.A, p.B);
    expect(counts()).toEqual([k0, r0]);
    await checkGrad(f, [p.state, p.x, p.dt, p.A, p.B]);
  });

  it("aLog: A given as A_log (-exp of it used) equals passing -exp(A_log), fused (padded sizes too) and composed", async () => {
    for (const [Dm, N] of [
      [12, 16],
      [10, 3],
    ]) {
      const p = stepProblem(2, Dm, N, 0, 1000 + Dm);
      const ALog = rn([Dm, N], 1010 + Dm, 0.5);
      const o = { D: p.D, z: p.z, dtBias: p.dtBias, dtSoftplus: true };
      const want = composed(() => selectiveStateUpdate(p.state, p.x, p.dt, T.neg(T.exp(ALog)), p.B, p.C, o));
      const [k0] = counts();
      const fused = selectiveStateUpdate(p.state, p.x, p.dt, ALog, p.B, p.C, { ...o, aLog: true });
      expect(counts()[0]).toBe(k0 + 1);
      const comp = composed(() => selectiveStateUpdate(p.state, p.x, p.dt, ALog, p.B, p.C, { ...o, aLog: true }));
      for (const [got, label] of [
        [fused, "fused"],
        [comp, "composed"],
      ] as const) {
        await assertClose(got.y, want.y, { atol: 1e-5 * maxAbs(want.y), rtol: 1e-5, label: `${label} y` });
        await assertClose(got.state, want.state, { atol: 1e-5 * maxAbs(want.state), rtol: 1e-5, label: `${label} state` });
      }
    }
  });

  it("under the 'reference' preference the composed step runs (no kernel run counted)", async () => {
    const p = stepProblem(2, 8, 4, 0, 990);
    const [k0] = counts();
    composed(() => selectiveStateUpdate(p.state, p.x, p.dt, p.A, p.B, p.C, { dtSoftplus: true }));
    expect(counts()[0]).toBe(k0);
  });
});

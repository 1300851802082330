/**
 * Miras associative memory: the reductions (linear attention, the delta rule, gated linear
 * attention), chunk-parallel = token-by-token = decoding for every combination of memory,
 * bias, optimiser, Omega window and mini-batch, Newton-Schulz and polynomial-feature
 * properties, gradients and errors.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as S from "../src/index";
import { inPieces, maxAbs, stepwise } from "./helpers";

const rn = (shape: number[], seed: number, scale = 1) => T.mul(T.normal(shape, 0, 1, { seed }), scale);
const l2 = (x: T.Tensor) => T.div(x, T.sqrt(T.sum(T.square(x), -1, { keepdims: true })));
const rel = (ref: T.Tensor) => ({ atol: 1e-5 * Math.max(1e-3, maxAbs(ref)), rtol: 1e-5 });

function inputs(B: number, H: number, Tn: number, K: number, V: number, seed: number) {
  return { q: l2(rn([B, H, Tn, K], seed)), k: l2(rn([B, H, Tn, K], seed + 1)), v: rn([B, H, Tn, V], seed + 2) };
}

describe("associativeMemory reductions", () => {
  const { q, k, v } = inputs(2, 2, 13, 4, 3, 1);
  for (const form of ["recurrent", "chunked"] as const) {
    it(`(${form}) matrix + dot + no retention + GD (eta 1) = causal linear attention`, async () => {
      const r = S.associativeMemory(q, k, v, { eta: 1 }, { bias: "dot", optimizer: "gd" }, { form });
      const ref = S.simpleGla(q, k, v, null, { scale: 1, form: "recurrent" });
      await assertClose(r.o, ref.o, { ...rel(ref.o), label: "o" });
      await assertClose(r.state.params[0], ref.state, rel(ref.state));
    });

    it(`(${form}) matrix + l2 + GD (eta = beta) = the delta rule`, async () => {
      const beta = T.sigmoid(rn([2, 2, 13], 7));
      const r = S.associativeMemory(q, k, v, { eta: beta }, { bias: "l2" }, { form });
      const ref = S.deltaRule(q, k, v, beta, { scale: 1, form: "recurrent" });
      await assertClose(r.o, ref.o, { ...rel(ref.o), label: "o" });
      await assertClose(r.state.params[0], ref.state, rel(ref.state));
    });

    it(`(${form}) matrix + dot + retention alpha = exp(g) = scalar-gated linear attention`, async () => {
      const g = T.div(T.logSigmoid(rn([2, 2, 13], 8)), 3);
      const r = S.associativeMemory(q, k, v, { eta: 1, alpha: T.exp(g) }, { bias: "dot" }, { form });
      const ref = S.simpleGla(q, k, v, g, { scale: 1, form: "recurrent" });
      await assertClose(r.o, ref.o, { ...rel(ref.o), label: "o" });
    });
  }
});

const MEMORIES: S.MemoryArchitecture[] = ["matrix", { mlp: { hidden: 5 } }, { mlp: { hidden: 4, residual: true } }];
const BIASES: S.AttentionalBias[] = ["dot", "l2", { lp: 3, smooth: 4 }, { huber: 0.5 }];
const OPTIMIZERS: S.InnerOptimizer[] = ["gd", "momentum", "muon"];

function initFor(mem: S.MemoryArchitecture, H: number, K: number, V: number, seed: number): T.Tensor[] {
  if (mem === "matrix") return [rn([H, K, V], seed, 0.3)];
  const h = mem.mlp.hidden;
  return [rn([H, K, h], seed, 0.5), rn([H, h, V], seed + 1, 0.5)];
}

describe("associativeMemory: chunk-parallel = recurrent = decoding", () => {
  for (const memory of MEMORIES) {
    for (const optimizer of OPTIMIZERS) {
      it(`${JSON.stringify(memory)} x ${optimizer} x every bias, windows 1/3, mini-batches 1/4`, async () => {
        const K = 4;
        const V = 4;
        const { q, k, v } = inputs(1, 2, 11, K, V, 3);
        const gates = {
          eta: T.mul(T.sigmoid(rn([1, 2, 11], 4)), 0.5),
          alpha: T.sigmoid(T.add(rn([1, 2, 11], 5), 3)),
          theta: T.sigmoid(rn([1, 2, 11], 6)),
          gamma: T.sigmoid(rn([1, 2, 11], 7)),
        };
        const init = initFor(memory, 2, K, V, 9);
        for (const bias of BIASES) {
          for (const [window, chunkSize] of [
            [1, 1],
            [3, 4],
            [1, 4],
            [3, 1],
          ]) {
            const cfg: S.MemoryConfig = { memory, bias, optimizer, window, chunkSize };
            const label = `${JSON.stringify(bias)} c${window} b${chunkSize}`;
            // Muon's Newton-Schulz multiplies perturbations along small singular directions by up to
            // 3.4445 per iteration (~480x over five), so float32 rounding differences between the
            // two summation orders reach ~1e-4 relative there; every other configuration holds 1e-5.
            const rel = (ref: T.Tensor) => ({ atol: (optimizer === "muon" ? 3e-4 : 1e-5) * Math.max(1e-3, maxAbs(ref)), rtol: optimizer === "muon" ? 3e-4 : 1e-5 });
            const ref = S.associativeMemory(q, k, v, gates, cfg, { form: "recurrent", init });
            const par = S.associativeMemory(q, k, v, gates, cfg, { form: "chunked", init });
            await assertClose(par.o, ref.o, { ...rel(ref.o), label: `${label} o` });
            for (let i = 0; i < init.length; i++) await assertClose(par.state.params[i], ref.state.params[i], { ...rel(ref.state.params[i]), label: `${label} param ${i}` });
            // in two pieces (a mini-batch split across calls), and token by token
            const first = S.associativeMemory(T.narrow(q, 2, 0, 6), T.narrow(k, 2, 0, 6), T.narrow(v, 2, 0, 6), sliceGates(gates, 0, 6), cfg, { init });
            const second = S.associativeMemory(T.narrow(q, 2, 6, 5), T.narrow(k, 2, 6, 5), T.narrow(v, 2, 6, 5), sliceGates(gates, 6, 5), cfg, { initialState: first.state });
            await assertClose(T.concat([first.o, second.o], 2), ref.o, { ...rel(ref.o), label: `${label} pieces` });
            let st = S.createMemoryState(cfg, 1, 2, K, V, { init });
            const os: T.Tensor[] = [];
            for (let t = 0; t < 11; t++) {
              const at = (x: T.Tensor) => T.select(x, 2, t);
              const r = S.associativeMemoryStep(at(q), at(k), at(v), { eta: at(gates.eta), alpha: at(gates.alpha), theta: at(gates.theta), gamma: at(gates.gamma) }, st, cfg);
              os.push(r.o);
              st = r.state;
            }
            await assertClose(T.stack(os, 2), ref.o, { ...rel(ref.o), label: `${label} steps` });
          }
        }
      });
    }
  }
});

function sliceGates(g: Record<string, T.Tensor>, s: number, n: number): S.MemoryGates {
  return Object.fromEntries(Object.entries(g).map(([key, x]) => [key, T.narrow(x, 2, s, n)])) as unknown as S.MemoryGates;
}

/** Eigenvalues of a small symmetric matrix (cyclic Jacobi). */
function symEig(a: number[][]): number[] {
  const n = a.length;
  const m = a.map((r) => [...r]);
  for (let sweep = 0; sweep < 50; sweep++) {
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        if (Math.abs(m[p][r]) < 1e-12) continue;
        const th = 0.5 * Math.atan2(2 * m[p][r], m[r][r] - m[p][p]);
        const c = Math.cos(th);
        const s = Math.sin(th);
        for (let i = 0; i < n; i++) {
          const [x, y] = [m[i][p], m[i][r]];
          m[i][p] = c * x - s * y;
          m[i][r] = s * x + c * y;
        }
        for (let i = 0; i < n; i++) {
          const [x, y] = [m[p][i], m[r][i]];
          m[p][i] = c * x - s * y;
          m[r][i] = s * x + c * y;
        }
      }
    }
  }
  return m.map((row, i) => row[i]);
}

describe("associativeMemory pieces", () => {
  it("Newton-Schulz (5 steps): singular values in [0.7, 1.2], wide and tall", () => {
    for (const shape of [
      [4, 7],
      [7, 4],
      [5, 5],
    ]) {
      const X = S.newtonSchulz(rn(shape, shape[0] * 10 + shape[1]));
      const small = shape[0] <= shape[1] ? T.matmul(X, T.transpose(X, 0, 1)) : T.matmul(T.transpose(X, 0, 1), X);
      const rows = small.arraySync() as number[][];
      for (const ev of symEig(rows)) {
        const sv = Math.sqrt(Math.max(ev, 0));
        expect(sv).toBeGreaterThan(0.68);
        expect(sv).toBeLessThan(1.22);
      }
    }
  });

  it("polynomial features: phi(x).phi(y) = sum_{d<=p} (x.y)^d / d!; width C(K+p, p) - 1", async () => {
    const x = rn([3, 5], 1, 0.6);
    const y = rn([3, 5], 2, 0.6);
    for (const p of [1, 2, 3]) {
      const fx = S.polynomialFeatures(x, p);
      expect(fx.shape[1]).toBe(S.polynomialWidth(5, p));
      const dot = T.sum(T.mul(x, y), -1);
      let expected = T.zerosLike(dot);
      let fact = 1;
      for (let d = 1; d <= p; d++) {
        fact *= d;
        expected = T.add(expected, T.div(T.pow(dot, d), fact));
      }
      await assertClose(T.sum(T.mul(fx, S.polynomialFeatures(y, p)), -1), expected, { atol: 1e-5, rtol: 1e-5, label: `p=${p}` });
    }
    expect(S.polynomialWidth(4, 2)).toBe(14);
  });

  it("gradients match finite differences (chunked form): momentum with a window; MLP + Huber + Muon", async () => {
    const { q, k, v } = inputs(1, 1, 5, 3, 3, 11);
    const w = rn([1, 1, 5, 3], 12);
    const loss = (cfg: S.MemoryConfig, o: S.AssociativeOptions, gates: Partial<S.MemoryGates>) => (qq: T.Tensor, kk: T.Tensor, vv: T.Tensor, e: T.Tensor) =>
      T.sum(T.mul(S.associativeMemory(qq, kk, vv, { ...gates, eta: e }, cfg, o).o, w));
    const momentumCfg: S.MemoryConfig = { bias: "l2", optimizer: "momentum", window: 2, chunkSize: 2 };
    await checkGrad(loss(momentumCfg, { init: [rn([1, 3, 3], 13, 0.3)] }, { alpha: 0.9 }), [q, k, v, T.full([1, 1, 5], 0.3)], { eps: 1e-3, atol: 3e-3, rtol: 3e-2 });
    // Newton-Schulz is smooth but steep along small singular directions, where float32 finite
    // differences drown in amplified rounding: start from a well-conditioned momentum (~I).
    const muonCfg: S.MemoryConfig = { memory: { mlp: { hidden: 3 } }, bias: { huber: 0.7 }, optimizer: "muon", chunkSize: 3 };
    const st = S.createMemoryState(muonCfg, 1, 1, 3, 3, { init: [rn([1, 3, 3], 13, 0.5), rn([1, 3, 3], 14, 0.5)] });
    st.momentum = st.momentum.map((m, i) => T.add(T.reshape(T.eye(3), [1, 1, 3, 3]), rn([...m.shape], 20 + i, 0.1)));
    await checkGrad(loss(muonCfg, { initialState: st }, { alpha: 0.9, theta: 0.8 }), [q, k, v, T.full([1, 1, 5], 0.1)], { eps: 3e-3, atol: 3e-3, rtol: 3e-2 });
    await checkGrad((x) => T.sum(T.mul(S.newtonSchulz(x), rn([4, 4], 5))), [T.add(T.eye(4), rn([4, 4], 3, 0.2))], { eps: 1e-3 });
  });

  it("clear errors", () => {
    const { q, k, v } = inputs(1, 2, 4, 3, 2, 1);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, { bias: "cosine" as never })).toThrow(/unknown attentional bias "cosine"/);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, { bias: { lp: 0.5 } })).toThrow(/lp bias needs p >= 1/);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, { optimizer: "adam" as never })).toThrow(/unknown optimizer 'adam'/);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, { memory: { mlp: { hidden: 0 } } })).toThrow(/unknown memory architecture/);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, { memory: { mlp: { hidden: 2, residual: true } } })).toThrow(
      /residual MLP memory needs key and value widths equal, got 3 and 2/,
    );
    expect(() => S.associativeMemory(q, k, v, { eta: T.zeros([1, 2, 3]) })).toThrow(/eta \[1,2,3\] must be \[B, H, T\] = \[1,2,4\]/);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, { window: 0 })).toThrow(/window must be a positive integer/);
    expect(() => S.associativeMemory(q, k, v, { eta: 1 }, {}, { init: [T.zeros([2, 3, 3])] })).toThrow(/memory parameter 0 is \[2,3,3\], expected \[1,2,3,2\] or \[2,3,2\]/);
  });
});

describe("NeuralMemory (token mixer)", () => {
  const presets: [string, Partial<S.NeuralMemoryOptions>, number][] = [
    ["linearAttention", S.MEMORY_PRESETS.linearAttention, 1e-5],
    ["deltaNet", S.MEMORY_PRESETS.deltaNet, 1e-5],
    ["titans", { ...S.MEMORY_PRESETS.titans, memory: { mlp: { hidden: 8 } }, chunkSize: 4 }, 1e-5],
    ["omega", { ...S.MEMORY_PRESETS.omega, memory: { mlp: { hidden: 8 } }, window: 3, chunkSize: 4 }, 1e-5],
    ["atlas", { ...S.MEMORY_PRESETS.atlas, memory: { mlp: { hidden: 8 } }, window: 3, chunkSize: 4 }, 3e-4], // Newton-Schulz: see above
    ["moneta", { ...S.MEMORY_PRESETS.moneta, memory: { mlp: { hidden: 8 } }, chunkSize: 4 }, 1e-5],
    ["yaad", { ...S.MEMORY_PRESETS.yaad, memory: { mlp: { hidden: 8 } }, chunkSize: 4 }, 1e-5],
  ];
  for (const [name, preset, tol] of presets) {
    it(`${name}: chunked = recurrent = pieces = steps; gradients reach every parameter`, async () => {
      const m = new S.NeuralMemory({ dModel: 8, numHeads: 2, seed: 1, ...preset } as S.NeuralMemoryOptions);
      const x = T.normal([2, 10, 8], 0, 1, { seed: 2 });
      const whole = m.forward(x).y;
      const close = { atol: tol * maxAbs(whole), rtol: tol };
      await assertClose(inPieces(m, x, [3, 7]), whole, { ...close, label: "pieces" });
      await assertClose(stepwise(m, x), whole, { ...close, label: "steps" });
      m.form = "recurrent";
      await assertClose(m.forward(x).y, whole, { ...close, label: "recurrent" });
      m.form = "chunked";
      const { grads } = T.gradients(() => T.sum(T.square(m.forward(x).y)), m.namedParameters());
      for (const [p, g] of Object.entries(grads)) expect(maxAbs(g), p).toBeGreaterThan(0);
    });
  }

  it("input gradients match finite differences (titans-like, small)", async () => {
    const m = new S.NeuralMemory({ dModel: 4, numHeads: 1, memory: { mlp: { hidden: 3 } }, bias: "l2", optimizer: "momentum", chunkSize: 2, seed: 5 });
    const w = T.normal([1, 4, 4], 0, 1, { seed: 6 });
    await checkGrad((x) => T.sum(T.mul(m.forward(x).y, w)), [T.normal([1, 4, 4], 0, 1, { seed: 7 })], { eps: 1e-3, atol: 3e-3, rtol: 3e-2 });
  });

  it("errors: foreign state, bad input", () => {
    const m = new S.NeuralMemory({ dModel: 8, seed: 1 });
    expect(() => m.forward(T.zeros([1, 2, 8]), { S: T.zeros([1]) })).toThrow(/not a NeuralMemory state/);
    expect(() => m.forward(T.zeros([1, 2, 7]))).toThrow(/NeuralMemory: input \[1,2,7\]/);
  });
});

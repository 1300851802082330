/**
 * The linear-recurrent family: retention against PyTorch (ops fixture), plain linear attention
 * against PyTorch, and for simple GLA, GLA, DeltaNet and Gated DeltaNet: every form against the
 * literal recurrence (ragged chunks, initial states), one-step decoding against the sequence,
 * and gradients (finite differences through the chunked form; chunked = recurrent autograd).
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, checkGrad } from "@tessera/tensor/testing";
import * as S from "../src/index";
import { fixture, maxAbs } from "./helpers";

const rn = (shape: number[], seed: number, scale = 1) => T.mul(T.normal(shape, 0, 1, { seed }), scale);
const l2 = (x: T.Tensor) => T.div(x, T.sqrt(T.sum(T.square(x), -1, { keepdims: true })));
const rel = (ref: T.Tensor) => ({ atol: 1e-5 * Math.max(1e-3, maxAbs(ref)), rtol: 1e-5 });

describe("retention and linear attention against PyTorch", () => {
  it("retention (ops fixture): parallel, recurrent and chunkwise, default multi-scale gammas", async () => {
    const f = fixture("ops", "ops.safetensors");
    expect(Array.from(f.retention_gamma.dataSync())).toEqual(S.retentionGammas(4).map(Math.fround));
    for (const form of ["parallel", "recurrent", "chunkwise"] as const) {
      const r = S.retention(f.q, f.k, f.v, { scale: 1, form, chunkSize: 8 });
      await assertClose(r.o, f.retention, { atol: 1e-5 * maxAbs(f.retention), rtol: 0, label: form });
    }
  });

  it("simple GLA without decay is causal linear attention (linear_attn_causal, elu+1 features)", async () => {
    const f = fixture("ops", "ops.safetensors");
    const phi = (x: T.Tensor) => T.add(T.elu(x), 1);
    const [fq, fk] = [phi(f.q), phi(f.k)];
    const num = S.simpleGla(fq, fk, f.v, null, { scale: 1, chunkSize: 8 }).o; // [2, 4, 33, 16]
    const den = S.simpleGla(fq, fk, T.onesLike(T.narrow(f.v, -1, 0, 1)), null, { scale: 1, chunkSize: 8 }).o; // [2, 4, 33, 1]
    await assertClose(T.div(num, den), f.linear_attn_causal, { atol: 1e-5 * maxAbs(f.linear_attn_causal), rtol: 0 });
  });
});

interface Family {
  name: string;
  forms: string[];
  /** inputs for [B, H, T, K, V] */
  inputs: (B: number, H: number, Tn: number, K: number, V: number, seed: number) => T.Tensor[];
  run: (xs: T.Tensor[], form: string, s0: T.Tensor | null, Q: number) => S.RecurrenceResult;
  step: (xs: T.Tensor[], t: number, state: T.Tensor) => { o: T.Tensor; state: T.Tensor };
}

const at = (x: T.Tensor, t: number) => T.select(x, 2, t);
const logDecay = (shape: number[], seed: number) => T.div(T.logSigmoid(rn(shape, seed)), 4);

const FAMILIES: Family[] = [
  {
    name: "simple GLA (scalar decay)",
    forms: ["recurrent", "chunked", "parallel"],
    inputs: (B, H, Tn, K, V, s) => [rn([B, H, Tn, K], s), rn([B, H, Tn, K], s + 1), rn([B, H, Tn, V], s + 2), logDecay([B, H, Tn], s + 3)],
    run: ([q, k, v, g], form, s0, Q) => S.simpleGla(q, k, v, g, { form: form as S.DecayForm, initialState: s0, chunkSize: Q }),
    step: ([q, k, v, g], t, st) => S.simpleGlaStep(at(q, t), at(k, t), at(v, t), at(g, t), st),
  },
  {
    name: "GLA (per-key gates)",
    forms: ["recurrent", "chunked"],
    inputs: (B, H, Tn, K, V, s) => [rn([B, H, Tn, K], s), rn([B, H, Tn, K], s + 1), rn([B, H, Tn, V], s + 2), logDecay([B, H, Tn, K], s + 3)],
    run: ([q, k, v, gk], form, s0, Q) => S.gla(q, k, v, gk, { form: form as "chunked", initialState: s0, chunkSize: Q }),
    step: ([q, k, v, gk], t, st) => S.glaStep(at(q, t), at(k, t), at(v, t), at(gk, t), st),
  },
  {
    name: "DeltaNet",
    forms: ["recurrent", "chunked"],
    inputs: (B, H, Tn, K, V, s) => [rn([B, H, Tn, K], s), l2(rn([B, H, Tn, K], s + 1)), rn([B, H, Tn, V], s + 2), T.sigmoid(rn([B, H, Tn], s + 3))],
    run: ([q, k, v, beta], form, s0, Q) => S.deltaRule(q, k, v, beta, { form: form as "chunked", initialState: s0, chunkSize: Q }),
    step: ([q, k, v, beta], t, st) => S.deltaRuleStep(at(q, t), at(k, t), at(v, t), at(beta, t), st),
  },
  {
    name: "Gated DeltaNet",
    forms: ["recurrent", "chunked"],
    inputs: (B, H, Tn, K, V, s) => [rn([B, H, Tn, K], s), l2(rn([B, H, Tn, K], s + 1)), rn([B, H, Tn, V], s + 2), T.sigmoid(rn([B, H, Tn], s + 3)), logDecay([B, H, Tn], s + 4)],
    run: ([q, k, v, beta, g], form, s0, Q) => S.deltaRule(q, k, v, beta, { g, form: form as "chunked", initialState: s0, chunkSize: Q }),
    step: ([q, k, v, beta, g], t, st) => S.deltaRuleStep(at(q, t), at(k, t), at(v, t), at(beta, t), st, { g: at(g, t) }),
  },
];

for (const fam of FAMILIES) {
  describe(fam.name, () => {
    it("every form equals the recurrence (ragged chunks, initial state); steps equal the sequence", async () => {
      const xs = fam.inputs(2, 3, 37, 5, 4, 1);
      const s0 = rn([2, 3, 5, 4], 9, 0.5);
      const ref = fam.run(xs, "recurrent", s0, 8);
      for (const form of fam.forms.slice(1)) {
        for (const Q of [8, 16, 64]) {
          const r = fam.run(xs, form, s0, Q);
          await assertClose(r.o, ref.o, { ...rel(ref.o), label: `${form} Q${Q} o` });
          await assertClose(r.state, ref.state, { ...rel(ref.state), label: `${form} Q${Q} state` });
        }
      }
      let st = s0;
      const os: T.Tensor[] = [];
      for (let t = 0; t < 37; t++) {
        const r = fam.step(xs, t, st);
        os.push(r.o);
        st = r.state;
      }
      await assertClose(T.stack(os, 2), ref.o, { ...rel(ref.o), label: "steps" });
      await assertClose(st, ref.state, { ...rel(ref.state), label: "step state" });
    });

    it("gradients: finite differences through the chunked form; chunked autograd = recurrent autograd", async () => {
      const xs = fam.inputs(1, 1, 7, 3, 2, 4);
      const s0 = rn([1, 1, 3, 2], 8, 0.5);
      const w = rn([1, 1, 7, 2], 5);
      const form = fam.forms[1];
      const loss =
        (f: string) =>
        (...a: T.Tensor[]) => {
          const r = fam.run(a.slice(0, -1), f, a[a.length - 1], 4);
          return T.add(T.sum(T.mul(r.o, w)), T.sum(T.square(r.state)));
        };
      await checkGrad(loss(form), [...xs, s0], { atol: 3e-3, rtol: 3e-2 });
      const a = T.grad(loss(form))(...xs, s0);
      const b = T.grad(loss("recurrent"))(...xs, s0);
      for (let i = 0; i < a.length; i++) await assertClose(a[i], b[i], { atol: 1e-5 * Math.max(1, maxAbs(b[i])), rtol: 1e-4, label: `grad ${i}` });
    });
  });
}

describe("linear recurrences: details and errors", () => {
  it("unitLowerInverse inverts I + strictly lower", async () => {
    const N = T.tril(rn([2, 9, 9], 3, 0.5), -1);
    const inv = S.unitLowerInverse(N); // (I - N)^-1
    await assertClose(T.matmul(T.sub(T.eye(9), N), inv), T.expand(T.eye(9), [2, 9, 9]), { atol: 1e-5, rtol: 0 });
  });

  it("retention with custom gammas equals simple GLA with log(gamma)", async () => {
    const [q, k, v] = [rn([1, 2, 10, 4], 1), rn([1, 2, 10, 4], 2), rn([1, 2, 10, 3], 3)];
    const r = S.retention(q, k, v, { gamma: [0.5, 0.9], form: "parallel" });
    const g = T.expand(T.reshape(T.log(T.tensor([0.5, 0.9])), [1, 2, 1]), [1, 2, 10]);
    await assertClose(r.o, S.simpleGla(q, k, v, g, { form: "recurrent" }).o, { atol: 1e-5, rtol: 1e-5 });
  });

  it("clear errors", () => {
    const q = T.zeros([1, 2, 5, 4]);
    expect(() => S.simpleGla(q, T.zeros([1, 2, 5, 3]), T.zeros([1, 2, 5, 2]), null)).toThrow(/simpleGla: k \[1,2,5,3\] must be \[B, H, T, K\] like q \[1,2,5,4\]/);
    expect(() => S.simpleGla(q, q, T.zeros([1, 2, 4, 2]), null)).toThrow(/v \[1,2,4,2\] must be \[B, H, T, V\]/);
    expect(() => S.simpleGla(q, q, q, T.zeros([1, 2, 4]))).toThrow(/g \[1,2,4\] must be \[B, H, T\]/);
    expect(() => S.simpleGla(q, q, q, null, { form: "magic" as never })).toThrow(/unknown form 'magic'/);
    expect(() => S.retention(q, q, q, { gamma: [0.9] })).toThrow(/gamma \[1\] must have one decay per head \(H = 2\)/);
    expect(() => S.gla(q, q, q, T.zeros([1, 2, 5, 3]))).toThrow(/gla: gk \[1,2,5,3\]/);
    expect(() => S.deltaRule(q, q, q, T.zeros([1, 2, 4]))).toThrow(/deltaRule: beta \[1,2,4\] must be \[B, H, T\]/);
    expect(() => S.deltaRule(q, q, q, T.zeros([1, 2, 5]), { initialState: T.zeros([1, 2, 4, 3]) })).toThrow(/initialState \[1,2,4,3\] must be \[B, H, K, V\] = \[1,2,4,4\]/);
    expect(() => S.deltaRule(q, q, q, T.zeros([1, 2, 5]), { chunkSize: 0 })).toThrow(/chunkSize must be a positive integer/);
  });
});

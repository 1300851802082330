/**
 * The attention cache grows in place (@tessera/tensor's append): decoding token by token equals
 * one forward pass while every step writes into the same buffer; a state stays what it was when
 * another step extends it or a branch decodes from it; decoding repeatedly from one state (the
 * benchmark's pattern) reuses its buffer; memory stays flat; training through a state still gets
 * concat's gradients; windowed models (Mistral) keep their window.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, probeTestBackend } from "@tessera/tensor/testing";
import { modelFromConfig, type CausalLM, type LMState } from "../src/index";
import { CONFIGS } from "./configs";
import "../src/webgpu"; // the fused WGSL kernels, as an app importing @tessera/models/webgpu

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)
await probeTestBackend("gpujs");

const ATTENTION = ["gpt2", "llama", "mistral", "qwen2"] as const;
const lm = (name: string) => modelFromConfig(CONFIGS[name], { seed: 3 }).model.eval() as CausalLM;
const ids = (xs: number[]) => T.tensor([xs], { dtype: "int32" });
const maxAbs = (t: T.Tensor) => Math.max(...Array.from(t.dataSync(), Math.abs));
/** The attention layers' cached keys of a state. */
const keys = (s: LMState) => s.layers.map((l) => l.k as T.Tensor);
/** Keeps (outside every tidy) the tensors of a state returned from a tidy. */
const keepState = (s: LMState) => {
  for (const l of s.layers) for (const t of Object.values(l)) if (typeof t !== "number") T.keep(t);
  return s;
};
/** Logits of the last position of the whole sequence, recomputed without a state. */
const lastLogits = (m: CausalLM, seq: number[]) => T.tidy(() => T.narrow(m.forward(ids(seq)).logits, 1, seq.length - 1, 1));
/** assertClose at the decode-vs-forward tolerance; disposes the expected tensor. */
const close = async (a: T.Tensor, b: T.Tensor, label: string) => {
  await assertClose(a, b, { atol: 1e-5 * maxAbs(b), rtol: 1e-5, label });
  b.dispose();
};
/** One step from `s`: the logits [1, 1, V] and the new state (kept). */
const step = (m: CausalLM, s: LMState, tok: number) => {
  const r = T.tidy(() => m.forward(ids([tok]), { state: s, logits: "last" }));
  return { logits: r.logits, state: keepState(r.state) };
};

describe("in-place KV cache appends", () => {
  for (const name of ATTENTION) {
    it(`${name}: token-by-token decoding equals one forward pass, every step written into the prefill's buffer`, async () => {
      const m = lm(name);
      const seq = [1, 5, 2, 7, 3, 3, 0, 1, 4, 6, 2, 5];
      const pre = 3; // below Mistral's window (4), so its prefill starts a buffer too
      let s = keepState(T.tidy(() => m.forward(ids(seq.slice(0, pre)), { logits: "last" }).state));
      const buffers = keys(s).map((k) => k.storage);
      expect(T.appendInfo(keys(s)[0])?.capacity).toBe(T.appendCapacity(pre));
      const before = T.memory();
      for (let t = pre; t < seq.length; t++) {
        const r = step(m, s, seq[t]);
        await close(r.logits, lastLogits(m, seq.slice(0, t + 1)), `${name} step ${t}`);
        expect(keys(r.state).map((k) => k.storage)).toEqual(buffers); // in place: the same buffers
        expect(T.appendInfo(keys(r.state)[0])?.committed).toBe(t + 1);
        m.disposeState(s);
        r.logits.dispose();
        s = r.state;
        // Flat: one state alive, no new buffer.
        expect([T.memory().numTensors, T.memory().numBytes]).toEqual([before.numTensors, before.numBytes]);
      }
      if (name === "mistral") expect(keys(s)[0].shape[2]).toBe(3); // the window's last 3 keys
      m.disposeState(s);
      m.dispose();
    });
  }

  it("branching: decoding twice from one state gives fresh decoding's logits and leaves the other branch's states as they were", async () => {
    for (const name of ["gpt2", "mistral"]) {
      const m = lm(name);
      const prompt = [4, 1, 3];
      const s0 = keepState(T.tidy(() => m.forward(ids(prompt), { logits: "last" }).state));
      const a1 = step(m, s0, 7); // extends s0's buffer in place
      const a2 = step(m, a1.state, 2);
      const snapshot = [...keys(a1.state), ...keys(a2.state)].map((k) => Array.from(k.dataSync()));
      const b1 = step(m, s0, 9); // a branch from s0 while a1, a2 live: a copy
      expect(keys(b1.state)[0].storage).not.toBe(keys(s0)[0].storage);
      await close(b1.logits, lastLogits(m, [...prompt, 9]), `${name} branch b`);
      const b2 = step(m, b1.state, 5);
      await close(b2.logits, lastLogits(m, [...prompt, 9, 5]), `${name} branch b, 2nd step`);
      // Branch a is untouched, and continues correctly.
      expect([...keys(a1.state), ...keys(a2.state)].map((k) => Array.from(k.dataSync()))).toEqual(snapshot);
      const a3 = step(m, a2.state, 6);
      await close(a3.logits, lastLogits(m, [...prompt, 7, 2, 6]), `${name} branch a, 3rd step`);
      const a2b = step(m, a1.state, 8); // a branch from the middle of branch a
      await close(a2b.logits, lastLogits(m, [...prompt, 7, 8]), `${name} branch from a1`);
      for (const r of [a1, a2, b1, b2, a3, a2b]) {
        r.logits.dispose();
        m.disposeState(r.state);
      }
      m.disposeState(s0);
      m.dispose();
    }
  });

  it("decoding repeatedly from one state and disposing the result (the benchmark's pattern) reuses the state's buffer", async () => {
    const m = lm("llama");
    const prompt = [2, 6, 1, 1];
    const s0 = keepState(T.tidy(() => m.forward(ids(prompt), { logits: "last" }).state));
    const before = T.memory();
    for (const tok of [3, 8, 5]) {
      const logits = T.tidy(() => {
        const r = m.forward(ids([tok]), { state: s0, logits: "last" });
        expect(keys(r.state).map((k) => k.storage)).toEqual(keys(s0).map((k) => k.storage));
        return r.logits; // the new state is disposed here
      });
      await close(logits, lastLogits(m, [...prompt, tok]), `llama from s0 with ${tok}`);
      logits.dispose();
      expect([T.memory().numTensors, T.memory().numBytes]).toEqual([before.numTensors, before.numBytes]);
    }
    m.disposeState(s0);
    m.dispose();
  });

  it("mistral past its buffer: the window's keys move to a fresh buffer of O(window) and decoding stays exact", async () => {
    const m = lm("mistral");
    const seq = Array.from({ length: 140 }, (_, i) => (i * 7) % 29);
    let s = keepState(T.tidy(() => m.forward(ids(seq.slice(0, 2)), { logits: "last" }).state));
    const first = keys(s)[0].storage;
    let moved = 0;
    for (let t = 2; t < seq.length; t++) {
      const r = step(m, s, seq[t]);
      if (t % 31 === 0 || t === seq.length - 1) await close(r.logits, lastLogits(m, seq.slice(0, t + 1)), `mistral step ${t}`);
      if (keys(r.state)[0].storage !== keys(s)[0].storage) {
        moved++;
        expect(T.appendInfo(keys(r.state)[0])?.capacity).toBe(T.appendCapacity(4)); // window - 1 kept + 1 new
      }
      m.disposeState(s);
      r.logits.dispose();
      s = r.state;
    }
    expect(keys(s)[0].storage).not.toBe(first);
    expect(moved).toBe(2); // the prefill's buffer (66 rows), then each 68 rows: amortized O(1) per token
    m.disposeState(s);
    m.dispose();
  });

  it("disposing every state frees the buffers; a state kept alone stays valid", async () => {
    const m = lm("qwen2");
    const before = T.memory();
    const s0 = keepState(T.tidy(() => m.forward(ids([1, 2]), { logits: "last" }).state));
    const s1 = step(m, s0, 3);
    const s2 = step(m, s1.state, 4);
    m.disposeState(s1.state);
    m.disposeState(s0);
    const s3 = step(m, s2.state, 5); // s2 alone keeps the buffer alive
    await close(s3.logits, lastLogits(m, [1, 2, 3, 4, 5]), "qwen2 after disposing older states");
    for (const r of [s1, s2, s3]) r.logits.dispose();
    m.disposeState(s2.state);
    m.disposeState(s3.state);
    expect([T.memory().numTensors, T.memory().numBytes]).toEqual([before.numTensors, before.numBytes]);
    m.dispose();
  });

  it("training through a state: chunked forward's gradients equal the whole sequence's (concat under autograd)", async () => {
    const m = modelFromConfig(CONFIGS.llama, { seed: 3 }).model as CausalLM;
    const x = [3, 1, 4, 1, 5, 9, 2, 6];
    const params = m.namedParameters() as Record<string, T.Tensor>;
    const whole = T.gradients(() => T.sum(T.square(m.forward(ids(x)).logits)), params);
    const chunked = T.gradients(() => {
      const a = m.forward(ids(x.slice(0, 5)));
      const b = m.forward(ids(x.slice(5)), { state: a.state });
      return T.add(T.sum(T.square(a.logits)), T.sum(T.square(b.logits)));
    }, params);
    await close(chunked.value, whole.value, "loss");
    for (const n of Object.keys(params)) await close(chunked.grads[n], whole.grads[n], `grad ${n}`);
    T.dispose([whole.value, chunked.value, ...Object.values(whole.grads), ...Object.values(chunked.grads)]);
    m.dispose();
  });
});

describe("in-place KV cache appends on the GPU backends (the backend's write into the buffer)", () => {
  for (const backend of ["webgpu", "gpujs"] as const) {
    it.skipIf(backend === "webgpu" && !webgpu.available)(`${backend}: decode steps write into the prefill's buffer, a branch copies; logits equal cpu's within 1e-4`, async () => {
      const cpu = lm("llama");
      const dev = modelFromConfig(CONFIGS.llama, { seed: 3, backend }).model.eval() as CausalLM;
      dev.loadStateDict(Object.fromEntries(Object.entries(cpu.stateDict()).map(([k, v]) => [k, T.toBackend(v, backend)])));
      const on = (xs: number[]) => T.tensor([xs], { dtype: "int32", backend });
      const devStep = (s: LMState, tok: number) => {
        const r = T.tidy(() => dev.forward(on([tok]), { state: s, logits: "last" }));
        return { logits: r.logits, state: keepState(r.state) };
      };
      const s0 = keepState(T.tidy(() => dev.forward(on([1, 2, 3]), { logits: "last" }).state));
      const a1 = devStep(s0, 4);
      const a2 = devStep(a1.state, 5);
      expect(keys(a2.state).map((k) => k.storage)).toEqual(keys(s0).map((k) => k.storage)); // in place
      const b1 = devStep(s0, 6); // a branch while a1, a2 live
      expect(keys(b1.state)[0].storage).not.toBe(keys(s0)[0].storage);
      for (const [r, seq] of [
        [a2, [1, 2, 3, 4, 5]],
        [b1, [1, 2, 3, 6]],
      ] as const) {
        const want = lastLogits(cpu, [...seq]);
        await assertClose(await r.logits.data(), await want.data(), { atol: 1e-4, rtol: 0, label: `${backend} ${seq}` });
        want.dispose();
      }
      const a3 = devStep(a2.state, 7); // branch a goes on in place, unaffected by b
      const want = lastLogits(cpu, [1, 2, 3, 4, 5, 7]);
      await assertClose(await a3.logits.data(), await want.data(), { atol: 1e-4, rtol: 0, label: `${backend} a3` });
      want.dispose();
      for (const r of [a1, a2, b1, a3]) {
        r.logits.dispose();
        dev.disposeState(r.state);
      }
      dev.disposeState(s0);
      cpu.dispose();
      dev.dispose();
    });
  }
});

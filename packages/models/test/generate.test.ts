/**
 * generate() against a cache-free reference (argmax of a full forward pass over the whole
 * sequence at every step), sampling semantics (seeded, top-k, top-p, temperature frequencies),
 * stops (EOS, length, callback) and memory.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { HostRandom } from "@tessera/tensor";
import { generate, modelFromConfig, sampleToken, type CausalLM } from "../src/index";
import { CAUSAL, CONFIGS } from "./configs";

const lm = (name: string, seed = 2) => modelFromConfig(CONFIGS[name], { seed }).model as CausalLM;

/** Greedy decoding with no state: the whole sequence through forward at each step. */
function referenceGreedy(m: CausalLM, prompt: number[], n: number): number[] {
  const seq = [...prompt];
  for (let i = 0; i < n; i++) {
    const next = T.tidy(() => {
      const logits = m.forward(T.tensor([seq], { dtype: "int32" })).logits; // [1, t, V]
      return T.argmax(T.select(T.select(logits, 0, 0), 0, seq.length - 1)).itemSync();
    });
    seq.push(next);
  }
  return seq;
}

describe("generate", () => {
  for (const name of CAUSAL) {
    it(`${name}: greedy with the cache/state equals full recomputation`, async () => {
      const m = lm(name);
      const prompt = [1, 5, 2, 7];
      const r = await generate(m, [prompt, [3, 3, 0, 1]], { maxNewTokens: 12 });
      expect(r.sequences[0]).toEqual(referenceGreedy(m, prompt, 12));
      expect(r.sequences[1]).toEqual(referenceGreedy(m, [3, 3, 0, 1], 12));
      expect(r.stopped).toBe("length");
      m.dispose();
    });
  }

  it("seeded sampling is reproducible; top-k 1 and a tiny top-p are greedy", async () => {
    const m = lm("llama");
    const s = (o: object) => generate(m, [[1, 2, 3]], { maxNewTokens: 10, ...o }).then((r) => r.generated[0]);
    const a = await s({ temperature: 1, seed: 7 });
    expect(await s({ temperature: 1, seed: 7 })).toEqual(a);
    expect(await s({ temperature: 1, seed: 8 })).not.toEqual(a);
    const greedy = await s({});
    expect(await s({ temperature: 1.3, topK: 1, seed: 3 })).toEqual(greedy);
    expect(await s({ temperature: 0.7, topP: 1e-6, seed: 3 })).toEqual(greedy);
  });

  it("sampleToken: frequencies follow softmax(logits / temperature) restricted by top-k and top-p", () => {
    const logits = [2, 1, 0.5, 0, -1];
    const freq = (o: object, n = 40000) => {
      const rng = new HostRandom(11);
      const c = new Array(5).fill(0);
      for (let i = 0; i < n; i++) c[sampleToken(logits, o, rng)]++;
      return c.map((v) => v / n);
    };
    const softmax = (z: number[]) => {
      const e = z.map((v) => Math.exp(v));
      const s = e.reduce((a, b) => a + b);
      return e.map((v) => v / s);
    };
    const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(0.01));
    close(freq({ temperature: 1 }), softmax(logits));
    close(freq({ temperature: 2 }), softmax(logits.map((v) => v / 2)));
    const k2 = softmax(logits.slice(0, 2));
    close(freq({ temperature: 1, topK: 2 }), [...k2, 0, 0, 0]);
    // top-p 0.8: p = [.53, .20, .12, .07, .03]; .53 + .20 < 0.8 so the third token is kept too.
    const p3 = softmax(logits.slice(0, 3));
    close(freq({ temperature: 1, topP: 0.8 }), [...p3, 0, 0]);
  });

  it("stops at EOS per sequence (padding finished rows), and when the callback says so", async () => {
    const m = lm("gpt2");
    const free = await generate(
      m,
      [
        [1, 2],
        [4, 5],
      ],
      { maxNewTokens: 8 },
    );
    const eos = free.generated[0][2];
    const r = await generate(
      m,
      [
        [1, 2],
        [4, 5],
      ],
      { maxNewTokens: 8, eosTokenId: eos, padTokenId: 0 },
    );
    expect(r.generated[0]).toEqual(free.generated[0].slice(0, free.generated[0].indexOf(eos) + 1));
    const streamed: number[] = [];
    const c = await generate(m, [[1, 2]], { maxNewTokens: 8, onToken: (t) => (streamed.push(t), streamed.length < 3) });
    expect(c.stopped).toBe("callback");
    expect(streamed).toEqual(free.generated[0].slice(0, 3));
    expect(c.generated[0]).toEqual(streamed);
  });

  it("memory does not grow across generate calls (every step's tensors freed)", async () => {
    for (const name of ["llama", "mamba"]) {
      const m = lm(name);
      await generate(m, [[1, 2, 3]], { maxNewTokens: 5 });
      const before = T.memory().numTensors;
      for (let i = 0; i < 3; i++) await generate(m, [[1, 2, 3]], { maxNewTokens: 6, temperature: 1, seed: i });
      expect(T.memory().numTensors, name).toBe(before);
      m.dispose();
    }
  });
});

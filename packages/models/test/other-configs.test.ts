/**
 * The loaders are general: configs with other sizes, head counts, GQA ratios, vocabularies and
 * depths build, and their three faces agree (one forward = prefill in pieces = token-by-token
 * decoding, within 1e-5 relative); GQA equals multi-head attention with repeated key/value
 * heads; Mistral's window and BERT's padding mask behave as defined; save -> load is
 * bit-identical, single-file and sharded.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { CausalLM, fromPretrained, hfStateDict, modelFromConfig, type LMState } from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";
import { CAUSAL, CONFIGS } from "./configs";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "tessera-models-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const maxAbs = (t: T.Tensor) => Math.max(...Array.from(t.dataSync(), Math.abs));
const ids = (V: number, B: number, L: number, seed: number) => T.randint(0, V, [B, L], { seed, dtype: "int32" });

/** Logits from feeding ids in pieces of the given lengths (1s = decoding), carrying the state. */
function inPieces(m: CausalLM, x: T.Tensor, lengths: number[]): T.Tensor {
  let state: LMState | undefined;
  let at = 0;
  const out: T.Tensor[] = [];
  for (const n of lengths) {
    const r = m.forward(T.narrow(x, 1, at, n), { state });
    out.push(r.logits);
    state = r.state;
    at += n;
  }
  return T.concat(out, 1);
}

describe("causal LMs at other sizes", () => {
  for (const name of CAUSAL) {
    it(`${name}: forward = prefill in pieces = token-by-token decoding`, async () => {
      const p = modelFromConfig(CONFIGS[name], { seed: 3 });
      if (p.task !== "causal-lm") throw new Error("causal");
      const m = p.model.eval();
      const x = ids(m.vocabSize, 2, 11, 5);
      const whole = m.forward(x).logits;
      expect(whole.shape).toEqual([2, 11, m.vocabSize]);
      const tol = { atol: 1e-5 * maxAbs(whole), rtol: 1e-5 };
      await assertClose(inPieces(m, x, [4, 3, 4]), whole, { ...tol, label: "pieces" });
      await assertClose(inPieces(m, x, Array(11).fill(1)), whole, { ...tol, label: "decoding" });
      const last = m.forward(x, { logits: "last" }).logits;
      await assertClose(last, T.narrow(whole, 1, 10, 1), { ...tol, label: "last" });
      m.dispose();
    });
  }

  it("grouped-query attention equals multi-head attention with each kv head repeated", async () => {
    const gqa = modelFromConfig(CONFIGS.llama, { seed: 1 });
    const mha = modelFromConfig({ ...CONFIGS.llama, num_key_value_heads: 6 }, { seed: 2 });
    const state = hfStateDict(gqa.model, gqa.info);
    const repeated: Record<string, T.Tensor> = { ...state };
    for (const [k, w] of Object.entries(state)) {
      if (!/(k_proj|v_proj)\.weight$/.test(k)) continue;
      const heads = T.reshape(w, [2, 1, 10, 48]); // [Hkv, 1, Dh, D]
      repeated[k] = T.reshape(T.expand(heads, [2, 3, 10, 48]), [60, 48]); // each kv head serves 3 query heads
    }
    const full = fromPretrained(mha.info.config, repeated);
    mha.model.dispose();
    const x = ids(41, 2, 9, 7);
    const a = gqa.model.forward(x).logits;
    await assertClose(full.model.forward(x).logits, a, { atol: 1e-5 * maxAbs(a), rtol: 1e-5 });
  });

  it("mistral's sliding window: a 1-layer model's output at t depends only on the last window tokens", async () => {
    const p = modelFromConfig({ ...CONFIGS.mistral, num_hidden_layers: 1 }, { seed: 4 });
    const m = p.model as CausalLM;
    const x = ids(29, 1, 10, 3);
    const full = m.forward(x).logits; // window 4
    for (const t of [3, 6, 9]) {
      const alone = m.forward(T.narrow(x, 1, t - 3, 4)).logits; // the 4 tokens it may see, from position 0
      await assertClose(T.narrow(alone, 1, 3, 1), T.narrow(full, 1, t, 1), { atol: 1e-5 * maxAbs(full), rtol: 1e-5, label: `t=${t}` });
    }
    const wide = modelFromConfig({ ...CONFIGS.mistral, num_hidden_layers: 1, sliding_window: 64 }, { seed: 4 });
    expect(maxAbs(T.sub(wide.model.forward(x).logits as T.Tensor, full))).toBeGreaterThan(1e-3);
  });

  it("BERT: padding masked by attentionMask leaves the real tokens' logits unchanged", async () => {
    const p = modelFromConfig(CONFIGS.bert, { seed: 5 });
    if (p.task !== "masked-lm") throw new Error("bert");
    const x = ids(30, 1, 7, 2);
    const ref = p.model.forward(x).logits;
    const padded = T.concat([x, T.zeros([1, 3], { dtype: "int32" })], 1);
    const mask = T.tensor([[1, 1, 1, 1, 1, 1, 1, 0, 0, 0]], { dtype: "int32" });
    const out = p.model.forward(padded, { attentionMask: mask }).logits;
    await assertClose(T.narrow(out, 1, 0, 7), ref, { atol: 1e-5 * maxAbs(ref), rtol: 1e-5 });
    const unmasked = p.model.forward(padded).logits;
    expect(maxAbs(T.sub(T.narrow(unmasked, 1, 0, 7), ref))).toBeGreaterThan(1e-4);
    const types = T.tensor([[0, 1, 2, 0, 1, 2, 0]], { dtype: "int32" });
    expect(maxAbs(T.sub(p.model.forward(x, { tokenTypeIds: types }).logits, ref))).toBeGreaterThan(1e-4);
  });

  it("ViT at another image size, patch size and channel count", () => {
    const p = modelFromConfig(CONFIGS.vit, { seed: 6 });
    if (p.task !== "image-classification") throw new Error("vit");
    const r = p.model.forward(T.normal([3, 2, 12, 12], 0, 1, { seed: 1 }), { hiddenStates: true });
    expect(r.logits.shape).toEqual([3, 5]);
    expect(r.hiddenStates!.map((h) => h.shape)).toEqual([
      [3, 10, 16],
      [3, 10, 16],
      [3, 10, 16],
    ]);
    expect(() => p.model.forward(T.zeros([1, 3, 12, 12]))).toThrow(/pixel_values \[1,3,12,12\] must be \[B, 2, 12, 12\]/);
  });
});

describe("save_pretrained round trip", () => {
  for (const name of Object.keys(CONFIGS)) {
    it(`${name}: saved and reloaded bit-identically (single file and sharded)`, async () => {
      const p = modelFromConfig(CONFIGS[name], { seed: 9 });
      const before = hfStateDict(p.model, p.info);
      for (const maxShardBytes of [undefined, 4096]) {
        const dir = tmp();
        await savePretrained(dir, p, { maxShardBytes });
        const files = readdirSync(dir);
        if (maxShardBytes) expect(files).toContain("model.safetensors.index.json");
        else expect(files.sort()).toEqual(["config.json", "model.safetensors"]);
        const back = loadPretrained(dir);
        const after = hfStateDict(back.model, back.info);
        expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
        for (const k of Object.keys(before)) expect(Buffer.from(after[k].dataSync().buffer).equals(Buffer.from(before[k].dataSync().buffer)), k).toBe(true);
        back.model.dispose();
      }
      p.model.dispose();
    });
  }
});

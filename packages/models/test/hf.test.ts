/**
 * Every Hugging Face fixture (fixtures/hf: tiny random GPT-2, Llama with GQA, Mamba,
 * Mamba-2, BERT, ViT made by PyTorch 2.11 + transformers 5.17) loads from its save_pretrained
 * folder and reproduces the logits and every hidden state within 1e-4 (float32), and greedy
 * generation token for token. hf-relaxed.test.ts reruns this file under
 * --experimental-wasm-relaxed-simd (the cpu kernels' fused multiply-add builds: the same bounds).
 */
import { describe, expect, it } from "vitest";
import { wasmFeatures } from "@tessera/tensor";
import { checkAgainstReference } from "../src/index";
import { loadPretrained } from "../src/node";
import { ARCHS, expected, hfDir } from "./helpers";

describe("Hugging Face fixtures on cpu", () => {
  it("runs with the WASM build it was told to expect (TESSERA_EXPECT_RELAXED_SIMD, set by hf-relaxed.test.ts)", () => {
    const expected = process.env.TESSERA_EXPECT_RELAXED_SIMD;
    const f = wasmFeatures();
    // unset: the relaxed builds exactly where the runtime has relaxed SIMD (Node 22+; Node 20 behind the flag)
    expect(f.relaxedSimd).toBe(expected === undefined ? f.relaxedSimdSupported && process.env.TESSERA_WASM_RELAXED_SIMD !== "0" : expected === "1");
  });
  for (const arch of ARCHS) {
    it(`${arch}: logits and hidden states within 1e-4, greedy generation identical`, async () => {
      const p = loadPretrained(hfDir(arch));
      const r = await checkAgainstReference(p, expected(arch));
      console.log(JSON.stringify(r));
      expect(r.logitsMaxAbsError).toBeLessThanOrEqual(1e-4);
      expect(r.hiddenStatesMaxAbsError.length).toBe(3);
      for (const e of r.hiddenStatesMaxAbsError) expect(e).toBeLessThanOrEqual(1e-4);
      if (expected(arch)["generate.prompt"]) expect(r.generationMatches).toBe(true);
      expect(r.pass).toBe(true);
      p.model.dispose();
    });
  }
});

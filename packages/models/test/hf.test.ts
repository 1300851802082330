/**
 * Every Hugging Face fixture (fixtures/hf: tiny random GPT-2, Llama with GQA, Mamba,
 * Mamba-2, BERT, ViT made by PyTorch 2.11 + transformers 5.17) loads from its save_pretrained
 * folder and reproduces the logits and every hidden state within 1e-4 (float32), and greedy
 * generation token for token.
 */
import { describe, expect, it } from "vitest";
import { checkAgainstReference } from "../src/index";
import { loadPretrained } from "../src/node";
import { ARCHS, expected, hfDir } from "./helpers";

describe("Hugging Face fixtures on cpu", () => {
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

/**
 * The models on the gpujs backend (gpu.js in webasm mode): every Hugging Face fixture's logits
 * and hidden states within 1e-4, greedy generation identical.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { useTestBackend } from "@tessera/tensor/testing";
import { checkAgainstReference } from "../src/index";
import { loadPretrained } from "../src/node";
import { ARCHS, expected, hfDir } from "./helpers";

describe("models on gpujs", () => {
  beforeAll(async () => {
    await useTestBackend("gpujs");
  }, 60_000);

  for (const arch of ARCHS) {
    it(`${arch}: Hugging Face fixture within 1e-4 on gpujs`, async () => {
      const p = loadPretrained(hfDir(arch), { backend: "gpujs" });
      const r = await checkAgainstReference(p, expected(arch), { backend: "gpujs" });
      expect(r.logitsMaxAbsError).toBeLessThanOrEqual(1e-4);
      for (const e of r.hiddenStatesMaxAbsError) expect(e).toBeLessThanOrEqual(1e-4);
      expect(r.generationMatches).not.toBe(false);
      p.model.dispose();
    });
  }
});

/** The masked-pretraining fixtures on the gpujs backend (gpu.js in webasm mode), as on cpu. */
import { beforeAll, describe, expect, it } from "vitest";
import { useTestBackend } from "@tessera/tensor/testing";
import { checkAgainstReference } from "../src/index";
import { loadPretrained } from "../src/node";
import { expected, hfDir } from "./helpers";

const MASKED_FIXTURES = ["vit_mae", "electra", "electra_generator", "beit", "beit_relative"] as const;

describe("masked-pretraining models on gpujs", () => {
  beforeAll(async () => {
    await useTestBackend("gpujs");
  }, 60_000);

  for (const name of MASKED_FIXTURES) {
    it(`${name}: Hugging Face fixture within 1e-4 on gpujs`, async () => {
      const p = loadPretrained(hfDir(name), { backend: "gpujs" });
      const r = await checkAgainstReference(p, expected(name), { backend: "gpujs" });
      console.log(name, "gpujs", JSON.stringify(r));
      expect(r.logitsMaxAbsError).toBeLessThanOrEqual(1e-4);
      for (const e of r.hiddenStatesMaxAbsError) expect(e).toBeLessThanOrEqual(1e-4);
      expect(r.lossRelativeError).toBeLessThanOrEqual(1e-5);
      expect(r.pass).toBe(true);
      p.model.dispose();
    });
  }
});

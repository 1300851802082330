/**
 * The masked-pretraining fixtures (MAE, ELECTRA, BEiT) on the webgpu backend (SwiftShader in CI):
 * logits and hidden states within 1e-4, losses within 1e-5 relative, MAE's mask and ids_restore
 * exact (the noise argsort runs on the GPU), as on cpu (masked-hf.test.ts).
 */
import { describe, expect, it } from "vitest";
import { probeTestBackend } from "@tessera/tensor/testing";
import { checkAgainstReference } from "../src/index";
import { loadPretrained } from "../src/node";
import { expected, hfDir } from "./helpers";
import "../src/webgpu";

const MASKED_FIXTURES = ["vit_mae", "electra", "electra_generator", "beit", "beit_relative"] as const;

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)

describe.skipIf(!webgpu.available)("masked-pretraining models on webgpu", () => {
  for (const name of MASKED_FIXTURES) {
    it(`${name}: Hugging Face fixture within 1e-4 on webgpu`, async () => {
      const p = loadPretrained(hfDir(name), { backend: "webgpu" });
      expect(p.model.parameters()[0].backend).toBe("webgpu");
      const r = await checkAgainstReference(p, expected(name), { backend: "webgpu" });
      console.log(name, "webgpu", JSON.stringify(r));
      expect(r.logitsMaxAbsError).toBeLessThanOrEqual(1e-4);
      for (const e of r.hiddenStatesMaxAbsError) expect(e).toBeLessThanOrEqual(1e-4);
      expect(r.lossRelativeError).toBeLessThanOrEqual(1e-5);
      if (name === "vit_mae") expect([r.otherMaxAbsError?.mask, r.otherMaxAbsError?.ids_restore]).toEqual([0, 0]);
      expect(r.pass).toBe(true);
      p.model.dispose();
    });
  }
});

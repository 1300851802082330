/**
 * The models on the webgpu backend (SwiftShader in CI): every Hugging Face fixture within 1e-4
 * with greedy generation identical, the cached decoding equal to forward, and memory flat.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { probeTestBackend } from "@tessera/tensor/testing";
import { checkAgainstReference, generate, modelFromConfig, type CausalLM } from "../src/index";
import { loadPretrained } from "../src/node";
import { CONFIGS } from "./configs";
import { ARCHS, expected, hfDir } from "./helpers";
import "../src/webgpu"; // the packages' fused WGSL kernels (what `import "@tessera/models/webgpu"` does)

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)

describe.skipIf(!webgpu.available)("models on webgpu", () => {
  for (const arch of ARCHS) {
    it(`${arch}: Hugging Face fixture within 1e-4 on webgpu`, async () => {
      const p = loadPretrained(hfDir(arch), { backend: "webgpu" });
      expect(p.model.parameters()[0].backend).toBe("webgpu");
      const r = await checkAgainstReference(p, expected(arch), { backend: "webgpu" });
      expect(r.logitsMaxAbsError).toBeLessThanOrEqual(1e-4);
      for (const e of r.hiddenStatesMaxAbsError) expect(e).toBeLessThanOrEqual(1e-4);
      expect(r.generationMatches).not.toBe(false);
      expect(r.pass).toBe(true);
      p.model.dispose();
    });
  }

  it("generation on webgpu equals cpu (llama GQA, mamba2) and frees its tensors", async () => {
    for (const name of ["llama", "mamba2"]) {
      const cpu = modelFromConfig(CONFIGS[name], { seed: 3 }).model as CausalLM;
      const gpu = modelFromConfig(CONFIGS[name], { seed: 3, backend: "webgpu" }).model as CausalLM;
      gpu.loadStateDict(Object.fromEntries(Object.entries(cpu.stateDict()).map(([k, v]) => [k, T.toBackend(v, "webgpu")])));
      const want = await generate(cpu, [[1, 2, 3]], { maxNewTokens: 6 });
      await generate(gpu, [[1, 2, 3]], { maxNewTokens: 2 });
      const before = T.memory().numTensors;
      const got = await generate(gpu, [[1, 2, 3]], { maxNewTokens: 6 });
      expect(got.sequences).toEqual(want.sequences);
      expect(T.memory().numTensors, name).toBe(before);
      cpu.dispose();
      gpu.dispose();
    }
  });
});

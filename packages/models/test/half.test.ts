/**
 * Half-precision projection weights (castModel): float32 math on float16 / bfloat16 weights.
 * On cpu the model equals a float32 model holding the rounded weights (the cast per call is
 * exact); on webgpu (SwiftShader in CI) the packed weights are read in place and the logits
 * agree with that cpu model within 1e-4, while the weights take half the GPU memory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose, probeTestBackend } from "@tessera/tensor/testing";
import { castModel, Projection, quantizeModel, type CausalLM } from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";
import { expected, hfDir } from "./helpers";
import "../src/webgpu"; // the packages' fused WGSL kernels (what `import "@tessera/models/webgpu"` does)

const DTYPES = ["float16", "bfloat16"] as const;

/** The fixture with every block projection's weight rounded to `dtype` but stored as float32. */
function roundedReference(arch: string, dtype: "float16" | "bfloat16"): CausalLM {
  const m = loadPretrained(hfDir(arch)).model as CausalLM;
  for (const [name, p] of m.namedModules()) {
    if (!(p instanceof Projection) || !name.startsWith("blocks.")) continue;
    T.tidy(() => T.assign(p.weight, T.cast(T.cast(p.weight, dtype), "float32")));
  }
  return m;
}

const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => T.max(T.abs(T.sub(a, b))).dataSync()[0]);

const webgpu = await probeTestBackend("webgpu"); // skipped with a printed reason when no adapter (never in CI)

describe("half-precision projection weights (castModel)", () => {
  for (const arch of ["gpt2", "llama"]) {
    for (const dtype of DTYPES) {
      it(`${arch}, ${dtype} on cpu: equals float32 math on the rounded weights; half the bytes`, () => {
        const ids = expected(arch).input_ids;
        const ref = roundedReference(arch, dtype);
        const m = loadPretrained(hfDir(arch)).model as CausalLM;
        const r = castModel(m, { dtype });
        expect(r.layers.length).toBe(arch === "gpt2" ? 8 : 14);
        expect(r.bytesAfter * 2).toBe(r.bytesBefore);
        const got = m.forward(ids).logits;
        const want = ref.forward(ids).logits;
        expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-6);
        // Against transformers' float32 logits the rounding shows (bfloat16 keeps 8 bits).
        const hf = maxAbsDiff(got, expected(arch).logits);
        expect(hf).toBeLessThan(dtype === "float16" ? 5e-3 : 5e-2);
        T.dispose([got, want]);
        m.dispose();
        ref.dispose();
      });
    }

    it.skipIf(!webgpu.available)(`${arch}, float16 on webgpu: weights read packed, logits within 1e-4 of the cpu model; GPU bytes drop`, async () => {
      const ids = expected(arch).input_ids;
      const ref = roundedReference(arch, "float16");
      const want = ref.forward(ids).logits;
      const m = loadPretrained(hfDir(arch), { backend: "webgpu" }).model as CausalLM;
      const before = T.memory().backends.webgpu!.numBytes;
      const r = castModel(m, { dtype: "float16" });
      expect(before - T.memory().backends.webgpu!.numBytes).toBe(r.bytesBefore - r.bytesAfter);
      const got = m.forward(T.toBackend(ids, "webgpu")).logits;
      await assertClose(got, want, { atol: 1e-4, rtol: 0, label: `${arch} f16 webgpu logits` });
      T.dispose([got, want]);
      m.dispose();
      ref.dispose();
    });
  }

  it("a float16 model saves float16 tensors; loading them back gives the rounded model", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-half-"));
    try {
      const p = loadPretrained(hfDir("llama"));
      castModel(p.model, { dtype: "float16" });
      await savePretrained(dir, p);
      const back = loadPretrained(dir).model as CausalLM;
      const ref = roundedReference("llama", "float16");
      const ids = expected("llama").input_ids;
      const [a, b] = [back.forward(ids).logits, ref.forward(ids).logits];
      expect(maxAbsDiff(a, b)).toBe(0);
      T.dispose([a, b]);
      for (const m of [p.model, back, ref]) m.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("errors: nothing to cast, a quantized projection", () => {
    const mamba = loadPretrained(hfDir("mamba")).model;
    expect(() => castModel(mamba, { dtype: "float16" })).toThrow("castModel: no projection matches /^blocks\\./");
    mamba.dispose();
    const g = loadPretrained(hfDir("gpt2")).model;
    quantizeModel(g, { format: { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }, include: /^blocks\.0\./ });
    expect(() => castModel(g, { dtype: "float16" })).toThrow(/castModel: projection 'blocks\.0\..*' is quantized/);
    g.dispose();
  });
});

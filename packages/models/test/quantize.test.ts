/**
 * Weight-only quantized models (@tessera/quantize): the Hugging Face GPT-2 and Llama fixtures
 * with int8 / int4 / NF4 block projections. The fused decode kernels (one token) agree with
 * the dequantize + GEMM path of prefill (within 1e-5 relative), logits stay near float32 (the
 * error is reported), and the weights shrink.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { generate, quantizeModel, type CausalLM, type LMState } from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";
import { CPU_FUSED_MAX_ROWS, type QuantFormat } from "@tessera/quantize";
import { expected, hfDir } from "./helpers";

/** [label, format, max bytes ratio, max relative RMS error of the logits]. */
const FORMATS: [string, QuantFormat, number, number][] = [
  ["int8 per channel", { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } }, 0.3, 0.03],
  ["int4 groups of 32", { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 32 } }, 0.2, 0.4],
  ["nf4 blocks of 64, double quant", { type: "nf4", blockSize: 64, doubleQuant: true }, 0.15, 0.4],
];

const maxAbs = (t: T.Tensor) => Math.max(...Array.from(t.dataSync(), Math.abs));

describe("quantized models", () => {
  for (const arch of ["gpt2", "llama"]) {
    for (const [label, format, ratio, rms] of FORMATS) {
      it(`${arch} with ${label}: decoding = prefill, logits near float32, weights smaller`, async () => {
        const ids = expected(arch).input_ids;
        const ref = (loadPretrained(hfDir(arch)).model as CausalLM).forward(ids).logits;
        const p = loadPretrained(hfDir(arch));
        const m = p.model as CausalLM;
        const r = quantizeModel(m, { format });
        expect(r.layers.length).toBe(arch === "gpt2" ? 8 : 14);
        // Llama's down_proj has K = 160: blocks of 64 do not tile its rows, so it runs dequantize + GEMM.
        expect(r.fused).toBe(arch === "llama" && format.type === "nf4" ? 12 : r.layers.length);
        expect(r.bytesAfter / r.bytesBefore).toBeLessThan(ratio);
        // prefill: dequantize + GEMM while the batch's rows exceed the cpu's fused limit
        expect(ids.size).toBeGreaterThan(CPU_FUSED_MAX_ROWS);
        const logits = m.forward(ids).logits;
        const err = maxAbs(T.sub(logits, ref));
        const rel = Math.sqrt(T.sum(T.square(T.sub(logits, ref))).itemSync() / T.sum(T.square(ref)).itemSync());
        console.log(
          `${arch} ${label}: logits max abs error ${err.toExponential(2)}, relative RMS ${rel.toFixed(4)} (logits max ${maxAbs(ref).toFixed(2)}), weights ${(r.bytesBefore / 1024).toFixed(0)} KiB -> ${(r.bytesAfter / 1024).toFixed(0)} KiB`,
        );
        expect(rel).toBeLessThan(rms);
        // Token by token: the fused kernels.
        let state: LMState | undefined;
        const steps: T.Tensor[] = [];
        for (let t = 0; t < ids.shape[1]; t++) {
          const o = m.forward(T.narrow(ids, 1, t, 1), { state });
          steps.push(o.logits);
          state = o.state;
        }
        await assertClose(T.concat(steps, 1), logits, { atol: 1e-5 * maxAbs(logits), rtol: 1e-5 });
        const g = await generate(m, [[1, 2, 3]], { maxNewTokens: 4 });
        expect(g.generated[0].length).toBe(4);
      });
    }
  }

  it("a quantized model refuses to be saved as a Hugging Face checkpoint; a projection quantizes once", async () => {
    const p = loadPretrained(hfDir("gpt2"));
    quantizeModel(p.model, { format: FORMATS[0][1], include: /^blocks\.0\./ });
    const dir = mkdtempSync(join(tmpdir(), "q-"));
    try {
      await expect(savePretrained(dir, p)).rejects.toThrow(/4 layer\(s\) are quantized \(blocks.0.mixer.qkv, blocks.0.mixer.o, blocks.0.mlp.up, \.\.\.\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => quantizeModel(p.model, { format: FORMATS[0][1], include: /^blocks\.0\./ })).toThrow(/no unquantized projection matches/);
    const proj = (p.model as CausalLM).blocks.at(0).mlp as unknown as { up: { weight: T.Tensor } };
    expect(() => proj.up.weight).toThrow(/the weight is quantized/);
  });
});

/**
 * The masked-pretraining fixtures (fixtures/hf: vit_mae, electra, electra_generator, beit,
 * beit_relative; made by fixtures/generate/masked_models.py with torch 2.13 + transformers 5.17)
 * load from their save_pretrained folders and reproduce Hugging Face: logits and every hidden
 * state within 1e-4 max abs (float32), the loss within 1e-5 relative, and for ViTMAE (masking
 * fixed by the reference `noise`) the mask and ids_restore exactly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { maskedPatchLoss } from "@tessera/masked";
import { runCommand } from "../src/cli/commands";
import { checkAgainstReference, modelFromConfig, sincosPositions2d } from "../src/index";
import { loadPretrained, readPretrainedFolder, savePretrained } from "../src/node";
import { expected, hfDir } from "./helpers";

const FIXTURES = [
  ["vit_mae", "masked-image-pretraining", 3],
  ["electra", "replaced-token-detection", 3],
  ["electra_generator", "masked-lm", 2],
  ["beit", "masked-image-modeling", 3],
  ["beit_relative", "masked-image-modeling", 3],
] as const;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const maxAbsDiff = (a: T.Tensor, b: T.Tensor) => T.tidy(() => T.max(T.abs(T.sub(a, b))).dataSync()[0]);

describe("masked-pretraining Hugging Face fixtures on cpu", () => {
  for (const [name, task, states] of FIXTURES) {
    it(`${name}: ${task}, logits and hidden states within 1e-4, loss within 1e-5 relative`, async () => {
      const p = loadPretrained(hfDir(name));
      expect(p.task).toBe(task);
      const r = await checkAgainstReference(p, expected(name));
      console.log(name, JSON.stringify(r));
      expect(r.logitsMaxAbsError).toBeLessThanOrEqual(1e-4);
      expect(r.hiddenStatesMaxAbsError.length).toBe(states);
      for (const e of r.hiddenStatesMaxAbsError) expect(e).toBeLessThanOrEqual(1e-4);
      expect(r.lossRelativeError).toBeLessThanOrEqual(1e-5);
      if (name === "vit_mae") {
        expect(r.otherMaxAbsError).toEqual({ mask: 0, ids_restore: 0, last_hidden_state: expect.any(Number) });
        expect(r.otherMaxAbsError!.last_hidden_state).toBeLessThanOrEqual(1e-4);
      }
      expect(r.pass).toBe(true);
      p.model.dispose();
    });
  }

  it("vit_mae: the loss without norm_pix_loss, and MAE's sin-cos tables equal the checkpoint's", () => {
    const p = loadPretrained(hfDir("vit_mae"), { task: "masked-image-pretraining" });
    const e = expected("vit_mae");
    const out = p.model.forward(e.pixel_values, { noise: e.noise });
    const plain = maskedPatchLoss(out.pred, p.model.patchify(e.pixel_values), out.mask);
    const [ours, ref] = [plain.dataSync()[0], e.loss_plain.dataSync()[0]];
    expect(Math.abs(ours - ref) / ref).toBeLessThanOrEqual(1e-5);
    // The encoder (32 wide) and decoder (16 wide) position tables Hugging Face stores are MAE's
    // 2-D sin-cos; ours, built from the definition, agree to float32 rounding.
    const w = readPretrainedFolder(hfDir("vit_mae")).weights;
    expect(maxAbsDiff(sincosPositions2d(4, 4, 32, { cls: true }), w["vit.embeddings.position_embeddings"])).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(sincosPositions2d(4, 4, 16, { cls: true }), w["decoder.decoder_pos_embed"])).toBeLessThanOrEqual(1e-6);
    T.dispose([...Object.values(w), out.loss, out.pred, out.mask, out.idsRestore, out.latent, plain]);
    p.model.dispose();
  });

  it("save -> load keeps every tensor of each fixture bit-identical (Hugging Face names out again)", async () => {
    for (const [name] of FIXTURES) {
      const p = loadPretrained(hfDir(name));
      const dir = mkdtempSync(join(tmpdir(), "tessera-masked-"));
      dirs.push(dir);
      await savePretrained(dir, p);
      const a = readPretrainedFolder(hfDir(name)).weights;
      const b = readPretrainedFolder(dir).weights;
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      for (const k of Object.keys(a)) expect(maxAbsDiff(a[k], b[k]), `${name} ${k}`).toBe(0);
      T.dispose([...Object.values(a), ...Object.values(b)]);
      p.model.dispose();
    }
  });

  it("loading and disposing leaves no tensors; a build that fails part-way frees what it built", () => {
    const live = () => T.memory().numTensors;
    const before = live();
    for (const [name] of FIXTURES) loadPretrained(hfDir(name)).model.dispose();
    expect(live()).toBe(before);
    const mixer = (l: number) => {
      if (l === 1) throw new Error("factory failed");
      return undefined;
    };
    for (const [name] of FIXTURES.filter(([n]) => n !== "electra_generator")) {
      // (the generator fixture has one layer: its factory never reaches layer 1)
      const { config, weights } = readPretrainedFolder(hfDir(name));
      T.dispose(Object.values(weights));
      expect(() => modelFromConfig(config, { seed: 1, mixer }), name).toThrow("factory failed");
    }
    expect(live()).toBe(before);
  });

  it("the CLI's check and info recognise them", async () => {
    for (const [name, task] of FIXTURES) {
      const r = await runCommand(["check", hfDir(name)]);
      expect(r.code, name).toBe(0);
      expect(r.report).toMatchObject({ pass: true });
      const info = await runCommand(["info", hfDir(name)]);
      expect(info.report).toMatchObject({ task });
    }
  });
});

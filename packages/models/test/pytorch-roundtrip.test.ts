/**
 * The PyTorch round trip, replayed without Python. fixtures/generate/roundtrip.py had Tessera
 * train tiny GPT-2, Llama (tied embeddings, GQA 6:2), BERT and ViT models (seeded init, 6 AdamW
 * steps: fixtures/generate/roundtrip.mjs), save them with savePretrained, and loaded each in
 * transformers 5.17 (torch 2.13) with from_pretrained (no missing or unexpected keys); it kept
 * the folders and transformers' logits on fixed probe inputs in fixtures/roundtrip/<arch>/.
 * Here: (1) the committed checkpoint loads in Tessera to transformers' logits within 1e-4;
 * (2) written again by savePretrained it is the same checkpoint (config.json equal, every
 * tensor's name, dtype, shape and value equal), so what Tessera writes is what transformers
 * loaded; (3) the same training runs again and writes a checkpoint of the same structure
 * (config, names, dtypes, shapes) whose weights moved from the initialisation. The retrained
 * values are not compared with the committed ones: six AdamW steps amplify last-bit differences
 * of faster kernels (Adam normalises tiny gradients), so they drift by up to ~1e-2 between
 * kernel versions while both checkpoints are valid.
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";
import * as M from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";
import { ROUNDTRIP_ARCHS, roundtripConfigs, trainTiny } from "../../../fixtures/generate/roundtrip.mjs";
import { FIXTURES } from "./helpers";

const TOL = 1e-4;
const tmp = mkdtempSync(join(tmpdir(), "tessera-roundtrip-"));
const figures: string[] = [];
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  console.log(`PyTorch round trip (max abs logits difference to transformers' from_pretrained):\n${figures.join("\n")}`);
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("models trained in Tessera load in transformers (fixtures/roundtrip)", () => {
  for (const arch of ROUNDTRIP_ARCHS) {
    it(`${arch}: the checkpoint transformers loaded gives its logits within 1e-4 and is what savePretrained writes; retraining writes the same structure`, async () => {
      const ref = join(FIXTURES, "roundtrip", arch);
      const want = loadSafetensors(join(ref, "expected.safetensors"));
      const r = await trainTiny<M.Pretrained, T.Tensor>(T, M, arch);
      const out = join(tmp, arch);
      await savePretrained(out, r.pretrained);

      expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8"))).toEqual(JSON.parse(readFileSync(join(ref, "config.json"), "utf8")));
      const ours = loadSafetensors(join(out, "model.safetensors")).tensors;
      const theirs = loadSafetensors(join(ref, "model.safetensors")).tensors;
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      let weightDiff = 0;
      for (const [k, t] of Object.entries(theirs)) {
        expect([ours[k].dtype, ours[k].shape], k).toEqual([t.dtype, t.shape]);
        weightDiff = Math.max(weightDiff, maxAbsDiff(ours[k].dataSync() as Float32Array, t.dataSync() as Float32Array));
      }
      // The retraining follows the committed run's loss curve (1e-3: last-bit kernel differences only).
      const committedLosses = JSON.parse(want.metadata.losses) as number[];
      expect(r.losses.length).toBe(committedLosses.length);
      r.losses.forEach((l, i) => expect(Math.abs(l - committedLosses[i]), `loss at step ${i}`).toBeLessThan(1e-3));
      // The probe inputs are the ones transformers ran.
      for (const [k, t] of Object.entries(r.inputs)) expect(Array.from(t.dataSync()), k).toEqual(Array.from(want.tensors[k].dataSync()));
      const hf = want.tensors.logits.dataSync() as Float32Array;

      // Training moved the weights away from the seeded initialisation.
      const init = M.modelFromConfig(roundtripConfigs()[arch], { seed: 11 });
      const initParams = init.model.namedParameters();
      const trained = r.pretrained.model.namedParameters();
      const moved = Math.max(...Object.keys(trained).map((k) => maxAbsDiff(trained[k].dataSync() as Float32Array, initParams[k].dataSync() as Float32Array)));
      expect(moved).toBeGreaterThan(1e-3);

      // Reading direction: the committed checkpoint loads back to transformers' logits too.
      const back = loadPretrained(ref);
      const inputs = r.inputs;
      const m = back.model as never as { forward: (...a: unknown[]) => { logits: T.Tensor; state?: unknown }; disposeState?: (s: unknown) => void };
      const b =
        arch === "vit" ? m.forward(inputs.pixel_values) : arch === "bert" ? m.forward(inputs.input_ids, { tokenTypeIds: inputs.token_type_ids }) : m.forward(inputs.input_ids);
      const dBack = maxAbsDiff(b.logits.dataSync() as Float32Array, hf);
      expect(dBack).toBeLessThan(TOL);
      if (b.state) m.disposeState?.(b.state);

      // Writing direction: the checkpoint loaded here and written by savePretrained is the one transformers loaded.
      const rewritten = join(tmp, `${arch}-rewritten`);
      await savePretrained(rewritten, back);
      expect(JSON.parse(readFileSync(join(rewritten, "config.json"), "utf8"))).toEqual(JSON.parse(readFileSync(join(ref, "config.json"), "utf8")));
      const again = loadSafetensors(join(rewritten, "model.safetensors")).tensors;
      expect(Object.keys(again).sort()).toEqual(Object.keys(theirs).sort());
      for (const [k, t] of Object.entries(theirs)) {
        expect([again[k].dtype, again[k].shape], k).toEqual([t.dtype, t.shape]);
        expect(maxAbsDiff(again[k].dataSync() as Float32Array, t.dataSync() as Float32Array), k).toBe(0);
      }
      const sameBytes = readFileSync(join(rewritten, "model.safetensors")).equals(readFileSync(join(ref, "model.safetensors")));

      figures.push(
        `${arch}: committed checkpoint in Tessera ${dBack.toExponential(2)}; rewritten by savePretrained ${sameBytes ? "byte-identical" : "value-identical"}; retrained here: weights within ${weightDiff.toExponential(1)} of the committed ones, loss ${r.losses[0].toFixed(3)} -> ${r.losses[r.losses.length - 1].toFixed(3)}`,
      );
      T.dispose([b.logits, r.logits, ...Object.values(r.inputs), ...Object.values(ours), ...Object.values(theirs), ...Object.values(again), ...Object.values(want.tensors)]);
      back.model.dispose();
      init.model.dispose();
      r.pretrained.model.dispose();
    });
  }
});

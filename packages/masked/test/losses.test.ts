import { describe, expect, it } from "vitest";
import { grad, memory, sum, tensor } from "@tessera/tensor";
import { electraCorrupt, maskedPatchLoss, maskedTokenLoss, mlmLoss, replacedTokenLoss } from "../src";
import { rows } from "./helpers";

const lse = (v: number[]) => Math.log(v.reduce((a, x) => a + Math.exp(x), 0));

describe("losses against hand-computed values", () => {
  it("mlmLoss: cross-entropy over labels != -100, mean over them", () => {
    const logits = tensor([
      [
        [1, 2, 3],
        [0, 0, 0],
        [2, 0, -1],
      ],
    ]);
    const got = mlmLoss(logits, [[2, -100, 0]]).itemSync();
    const want = (lse([1, 2, 3]) - 3 + (lse([2, 0, -1]) - 2)) / 2;
    expect(got).toBeCloseTo(want, 5);
  });

  it("maskedPatchLoss: per-patch MSE averaged over the patch, mean over masked patches (MAE)", () => {
    const pred = tensor([
      [
        [1, 1],
        [0, 0],
        [2, 2],
      ],
    ]);
    const target = tensor([
      [
        [0, 2],
        [5, 5],
        [2, 0],
      ],
    ]);
    const mask = [[1, 0, 1]];
    // patch 0: ((1)^2 + (1)^2) / 2 = 1; patch 2: (0 + 4) / 2 = 2; mean over masked = 1.5
    expect(maskedPatchLoss(pred, target, mask).itemSync()).toBeCloseTo(1.5, 6);
    // normPix: target patch 0 [0, 2] -> mean 1, unbiased var 2 -> [-1, 1] / sqrt(2 + 1e-6)
    const s = Math.sqrt(2 + 1e-6);
    const p0 = ((1 + 1 / s) ** 2 + (1 - 1 / s) ** 2) / 2;
    const p2 = ((2 - 1 / s) ** 2 + (2 + 1 / s) ** 2) / 2; // [2, 0] -> [1, -1] / s
    expect(maskedPatchLoss(pred, target, mask, { normPix: true }).itemSync()).toBeCloseTo((p0 + p2) / 2, 5);
  });

  it("maskedTokenLoss: cross-entropy of the codes at masked positions only (BEiT)", () => {
    const logits = tensor([
      [
        [0, 1],
        [3, 0],
        [1, 1],
      ],
    ]);
    const got = maskedTokenLoss(logits, [[1, 1, 0]], [[1, 1, 0]]).itemSync();
    const want = (lse([0, 1]) - 1 + (lse([3, 0]) - 0)) / 2;
    expect(got).toBeCloseTo(want, 5);
  });

  it("electraCorrupt: samples only at selected positions; a sample equal to the original counts as original", () => {
    // Generator certain of token 2 at position 1 (original 2 -> not replaced) and of token 0 at position 2 (original 1 -> replaced).
    const g = tensor([
      [
        [0, 0, 0],
        [-50, -50, 50],
        [50, -50, -50],
        [50, -50, -50],
      ],
    ]);
    const masked = [[7, 3, 3, 9]];
    const labels = [[-100, 2, 1, -100]];
    const c = electraCorrupt(g, masked, labels, { seed: 1 });
    expect(rows(c.corruptedIds)).toEqual([[7, 2, 0, 9]]);
    expect(rows(c.isReplaced)).toEqual([[0, 0, 1, 0]]);
  });

  it("replacedTokenLoss = MLM + 50 x BCE over non-pad positions, with a discriminator function or its logits", () => {
    const g = tensor([
      [
        [0, 0, 0],
        [-50, -50, 50],
        [50, -50, -50],
        [50, -50, -50],
      ],
    ]);
    const masked = [[7, 3, 3, 9]];
    const labels = [[-100, 2, 1, -100]];
    const dl = [0.5, -1, 2, 3];
    const att = [[1, 1, 1, 0]];
    const r = replacedTokenLoss({ generatorLogits: g, labels, inputIds: masked, discriminator: () => tensor([dl]), attentionMask: att, seed: 1 });
    const gen = (lse([-50, -50, 50]) - 50 + (lse([50, -50, -50]) + 50)) / 2;
    const sp = (x: number) => Math.log1p(Math.exp(x));
    const bce = [sp(0.5), sp(-1), sp(2) - 2]; // y = 0, 0, 1 (softplus(x) - y x)
    const disc = (bce[0] + bce[1] + bce[2]) / (3 + 1e-6);
    expect(r.generatorLoss.itemSync()).toBeCloseTo(gen, 4);
    expect(r.discriminatorLoss.itemSync()).toBeCloseTo(disc, 5);
    expect(r.loss.itemSync()).toBeCloseTo(gen + 50 * disc, 3);
    const again = replacedTokenLoss({
      generatorLogits: g,
      labels,
      inputIds: masked,
      discriminator: tensor([dl]),
      corrupted: electraCorrupt(g, masked, labels, { seed: 1 }),
      attentionMask: att,
      lambda: 10,
    });
    expect(again.loss.itemSync()).toBeCloseTo(gen + 10 * disc, 3);
  });

  it("gradients reach the discriminator logits and the generator logits", () => {
    const g = tensor([
      [
        [0.1, 0.2, 0.3],
        [0.3, 0.1, 0.2],
      ],
    ]);
    const d = tensor([[0.5, -0.5]]);
    const [dg, dd] = grad((gl, dlog) => replacedTokenLoss({ generatorLogits: gl, labels: [[-100, 1]], inputIds: [[0, 0]], discriminator: () => dlog, seed: 2 }).loss)(g, d);
    expect(sum(dg).itemSync()).toBeCloseTo(0, 5); // softmax gradients sum to zero per row
    expect(
      rows(dd)
        .flat()
        .every((v) => Number.isFinite(v) && v !== 0),
    ).toBe(true);
  });

  it("losses leave the tensor count flat", () => {
    const logits = tensor([
      [
        [1, 2, 3],
        [0, 0, 0],
      ],
    ]);
    const pred = tensor([
      [
        [1, 1],
        [0, 0],
      ],
    ]);
    const before = memory().numTensors;
    for (let i = 0; i < 20; i++) {
      mlmLoss(logits, [[2, -100]]).dispose();
      maskedPatchLoss(
        pred,
        [
          [
            [0, 1],
            [1, 0],
          ],
        ],
        [[1, 0]],
        { normPix: true },
      ).dispose();
      maskedTokenLoss(logits, [[1, 0]], [[1, 1]]).dispose();
      const r = replacedTokenLoss({ generatorLogits: logits, labels: [[2, -100]], inputIds: [[0, 1]], discriminator: () => tensor([[0.1, 0.2]]), seed: i });
      for (const t of Object.values(r)) t.dispose();
    }
    expect(memory().numTensors).toBe(before);
  });
});

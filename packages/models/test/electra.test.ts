/**
 * ELECTRA (Clark et al. 2020) by its definition: the generator and the discriminator share one
 * embeddings module (stored once, trained by both losses), the generator is a fraction of the
 * discriminator's width with its own E -> D projection, no gradient flows through the sampled
 * replacements, the detection loss is the BCE of its definition, a training run keeps memory
 * flat, and bad input is named.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { ELECTRA_DISCRIMINATOR as DISC } from "./configs";
import { Electra, electraFromConfigs, electraGeneratorConfig, ElectraTrainer, modelFromConfig, replacedTokenDetectionLoss } from "../src/index";

const MASK = 3;
const ids = (B: number, L: number, seed: number) => T.randint(5, 40, [B, L], { seed, dtype: "int32" });
const maxAbs = (t: T.Tensor) => T.tidy(() => T.max(T.abs(t)).dataSync()[0]);

describe("ELECTRA", () => {
  it("the generator is a fraction of the discriminator; both project the shared 16-wide embeddings", () => {
    const g = electraGeneratorConfig(DISC, 0.25);
    expect(g).toMatchObject({ architectures: ["ElectraForMaskedLM"], embedding_size: 16, hidden_size: 8, num_attention_heads: 1, intermediate_size: 16, num_hidden_layers: 2 });
    const e = electraFromConfigs(DISC, undefined, { seed: 1 });
    expect(e.generator.encoder.embeddings).toBe(e.discriminator.encoder.embeddings);
    expect(e.generator.encoder.project!.weight.shape).toEqual([8, 16]);
    expect(e.discriminator.encoder.project!.weight.shape).toEqual([32, 16]);
    const x = ids(2, 9, 1);
    expect(e.generator.forward(x).logits.shape).toEqual([2, 9, 40]);
    expect(e.discriminator.forward(x).logits.shape).toEqual([2, 9]);
    // Stored once: the pair's parameters hold the word embeddings under one name.
    const names = Object.keys(e.namedParameters());
    expect(names.filter((n) => n.endsWith("embeddings.word.weight"))).toEqual(["discriminator.encoder.embeddings.word.weight"]);
    expect(names.some((n) => n.startsWith("generator.encoder.embeddings"))).toBe(false);
    // Without a projection when the widths agree.
    const same = modelFromConfig({ ...DISC, embedding_size: 32 }, { seed: 2 });
    if (same.task !== "replaced-token-detection") throw new Error("discriminator");
    expect(same.model.encoder.project).toBeNull();
    T.dispose([...same.model.parameters(), ...e.parameters()]);
  });

  it("gradients reach both halves and the shared embeddings from each loss; none flows through the sampling", () => {
    const e = electraFromConfigs(DISC, undefined, { seed: 3 });
    const x = ids(2, 12, 2);
    const params = e.namedParameters();
    const step = (o: { lambda?: number; generatorWeight?: number }) =>
      T.gradients(() => {
        const r = e.loss(x, { maskTokenId: MASK, specialTokenIds: [0, 1, 2], probability: 0.3, seed: 7, ...o });
        return o.generatorWeight === 0 ? T.mul(r.discriminatorLoss, o.lambda ?? 50) : o.lambda === 0 ? r.generatorLoss : r.loss;
      }, params);
    const word = "discriminator.encoder.embeddings.word.weight";
    const both = step({});
    for (const k of [
      "generator.encoder.blocks.0.mixer.q.weight",
      "generator.headDense.weight",
      "generator.headBias",
      "discriminator.encoder.blocks.1.mlp.up.weight",
      "discriminator.headOut.weight",
      word,
    ]) {
      expect(maxAbs(both.grads[k]), k).toBeGreaterThan(0);
    }
    const genOnly = step({ lambda: 0 });
    const discOnly = step({ generatorWeight: 0 });
    expect(maxAbs(genOnly.grads[word])).toBeGreaterThan(0);
    expect(maxAbs(discOnly.grads[word])).toBeGreaterThan(0);
    // The discriminator's loss sees the generator only through sampled ids: zero gradient there.
    for (const [k, g] of Object.entries(discOnly.grads)) if (k.startsWith("generator.")) expect(maxAbs(g), k).toBe(0);
    for (const [k, g] of Object.entries(genOnly.grads)) if (k.startsWith("discriminator.") && !k.includes("embeddings")) expect(maxAbs(g), k).toBe(0);
    // The total is the sum of the parts (same seed: same masking and samples).
    expect(maxAbs(T.sub(both.grads[word], T.add(genOnly.grads[word], discOnly.grads[word])))).toBeLessThan(1e-5 * maxAbs(both.grads[word]));
    for (const r of [both, genOnly, discOnly]) T.dispose([r.value, ...Object.values(r.grads)]);
    e.dispose();
  });

  it("the loss is mlm + lambda x BCE over non-padding tokens; padding is never masked", () => {
    const e = electraFromConfigs(DISC, undefined, { seed: 4 });
    const x = ids(2, 10, 3);
    const att = T.tensor(
      [
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
      ],
      { dtype: "int32" },
    );
    const r = e.loss(x, { maskTokenId: MASK, probability: 0.5, seed: 3, attentionMask: att, lambda: 10 });
    const [total, gen, disc] = [r.loss, r.generatorLoss, r.discriminatorLoss].map((t) => t.dataSync()[0]);
    expect(Math.abs(total - (gen + 10 * disc))).toBeLessThan(1e-5 * total);
    const labels = Array.from(r.labels.dataSync());
    for (let t = 6; t < 10; t++) expect(labels[10 + t]).toBe(-100);
    expect(labels.some((v) => v !== -100)).toBe(true);
    // Replaced tokens are where the corrupted ids differ from the originals.
    const orig = Array.from(x.dataSync());
    const corrupted = Array.from(r.corruptedIds.dataSync());
    expect(Array.from(r.isReplaced.dataSync())).toEqual(corrupted.map((c, i) => (c !== orig[i] ? 1 : 0)));
    e.dispose();
  });

  it("replacedTokenDetectionLoss: the BCE with logits of its definition, mean over attended positions", () => {
    const logits = T.tensor([
      [2, -1, 0.5],
      [0, 3, -2],
    ]);
    const y = T.tensor([
      [1, 0, 0],
      [1, 1, 0],
    ]);
    const bce = (x: number, t: number) => -(t * Math.log(1 / (1 + Math.exp(-x))) + (1 - t) * Math.log(1 - 1 / (1 + Math.exp(-x))));
    const all = [bce(2, 1), bce(-1, 0), bce(0.5, 0), bce(0, 1), bce(3, 1), bce(-2, 0)];
    expect(replacedTokenDetectionLoss(logits, y).dataSync()[0]).toBeCloseTo(all.reduce((a, b) => a + b) / 6, 6);
    const att = T.tensor([
      [1, 1, 0],
      [1, 0, 0],
    ]);
    expect(replacedTokenDetectionLoss(logits, y, att).dataSync()[0]).toBeCloseTo((all[0] + all[1] + all[3]) / 3, 6);
    expect(() => replacedTokenDetectionLoss(logits, T.zeros([2, 2]))).toThrow("replacedTokenDetectionLoss: isReplaced [2,2] must have the shape of logits [2,3]");
  });

  it("ElectraTrainer: steps update both halves, losses are finite and memory stays flat", async () => {
    const e = electraFromConfigs(DISC, undefined, { seed: 5 });
    const trainer = new ElectraTrainer(e, { lr: 1e-3 });
    const x = ids(4, 12, 9);
    const before = { g: e.generator.headDense.weight.dataSync().slice(), d: e.discriminator.headOut.weight.dataSync().slice() };
    let after = 0;
    for (let s = 0; s < 4; s++) {
      const r = await trainer.trainStep(x, { maskTokenId: MASK, specialTokenIds: [0, 1, 2], seed: s });
      expect(Number.isFinite(r.loss) && Number.isFinite(r.generatorLoss) && Number.isFinite(r.discriminatorLoss)).toBe(true);
      expect(Math.abs(r.loss - (r.generatorLoss + 50 * r.discriminatorLoss))).toBeLessThan(1e-4 * r.loss);
      if (s === 0) after = T.memory().numTensors;
    }
    expect(T.memory().numTensors).toBe(after);
    expect(e.generator.headDense.weight.dataSync()).not.toEqual(before.g);
    expect(e.discriminator.headOut.weight.dataSync()).not.toEqual(before.d);
    trainer.dispose();
    e.dispose();
  });

  it("errors name the argument and the shapes", () => {
    const a = electraFromConfigs(DISC, undefined, { seed: 6 });
    const b = electraFromConfigs(DISC, undefined, { seed: 7 });
    expect(() => new Electra({ generator: a.generator, discriminator: b.discriminator })).toThrow(
      /Electra: generator and discriminator must be built on the same ElectraEmbeddings instance/,
    );
    expect(() => a.loss(T.zeros([4], { dtype: "int32" }), { maskTokenId: MASK })).toThrow("Electra.loss: ids must be [B, T], got [4]");
    expect(() => a.loss(ids(2, 5, 1), { maskTokenId: MASK, attentionMask: T.ones([2, 4]) })).toThrow("Electra.loss: attentionMask [2,4] must have the shape of ids [2,5]");
    expect(() => a.discriminator.forward(ids(1, 40, 1))).toThrow("ElectraEmbeddings.forward: ids [1,40]: 40 tokens exceed max_position_embeddings 32");
    expect(() => a.generator.forward(ids(2, 5, 1), { tokenTypeIds: T.zeros([2, 4], { dtype: "int32" }) })).toThrow(
      "ElectraEmbeddings.forward: tokenTypeIds [2,4] must have the shape of ids [2,5]",
    );
    expect(() => electraGeneratorConfig(DISC, 0.4)).toThrow("electraGeneratorConfig: hidden_size 32 x fraction 0.4 = 13 must be a positive multiple of the 2 generator heads");
    expect(() => electraGeneratorConfig(DISC, 0)).toThrow("electraGeneratorConfig: fraction must be in (0, 1], got 0");
    expect(() => electraFromConfigs(DISC, { ...electraGeneratorConfig(DISC), embedding_size: 8 })).toThrow(
      "loadModel: config.json (electra): the shared embeddings have embeddingSize 16 but this config asks for 8",
    );
    a.dispose();
    b.dispose();
  });
});

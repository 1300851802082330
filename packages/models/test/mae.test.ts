/**
 * MaskedAutoencoderViT (He et al. 2022) by its definition: MAE's patch layout, the encoder sees
 * only visible patches, idsRestore puts every decoder token back at its patch, the loss covers
 * masked patches only (checked against a host computation of the formula), linear-probe
 * features, gradients, memory, and errors that name the argument and shapes.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { BeitForMaskedImageModeling, Electra, MaskedAutoencoderViT, modelFromConfig, patchify, unpatchify, vitBlock } from "../src/index";

const CONFIG = {
  model_type: "vit_mae",
  image_size: 16,
  patch_size: 4,
  num_channels: 2,
  hidden_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 3,
  intermediate_size: 48,
  decoder_hidden_size: 16,
  decoder_num_hidden_layers: 1,
  decoder_num_attention_heads: 2,
  decoder_intermediate_size: 32,
  mask_ratio: 0.75,
};
const mae = (seed = 1, extra: Record<string, unknown> = {}) => modelFromConfig({ ...CONFIG, ...extra }, { task: "masked-image-pretraining", seed }).model;
const images = (B: number, seed: number) => T.normal([B, 2, 16, 16], 0, 1, { seed });
const maxAbs = (t: T.Tensor) => T.tidy(() => T.max(T.abs(t)).dataSync()[0]);
const rows = (t: T.Tensor) => {
  const v = Array.from(t.dataSync(), Number);
  const n = t.shape[t.rank - 1];
  return Array.from({ length: v.length / n }, (_, i) => v.slice(i * n, (i + 1) * n));
};

describe("patchify / unpatchify", () => {
  it("uses MAE's layout: patch (h, w) row-major, values ordered (row, column, channel)", () => {
    const x = T.arange(0, 2 * 3 * 4 * 4, 1, { dtype: "float32" }).reshape([2, 3, 4, 4]);
    const p = patchify(x, 2); // [2, 4, 12]
    expect(p.shape).toEqual([2, 4, 12]);
    const v = p.dataSync();
    // image b, patch (i, j), offset (r, c), channel ch -> x[b, ch, 2i + r, 2j + c]
    for (const [b, i, j, r, c, ch] of [
      [0, 0, 0, 0, 0, 0],
      [0, 0, 1, 1, 0, 2],
      [1, 1, 0, 0, 1, 1],
      [1, 1, 1, 1, 1, 2],
    ]) {
      const got = v[b * 48 + (i * 2 + j) * 12 + (r * 2 + c) * 3 + ch];
      expect(got).toBe(b * 48 + ch * 16 + (2 * i + r) * 4 + (2 * j + c));
    }
    expect(maxAbs(T.sub(unpatchify(p, 2, 3), x))).toBe(0);
    expect(unpatchify(patchify(T.zeros([1, 1, 4, 8]), 2), 2, 1, { height: 4, width: 8 }).shape).toEqual([1, 1, 4, 8]);
  });

  it("errors name the argument and the shapes", () => {
    expect(() => patchify(T.zeros([1, 3, 6, 6]), 4)).toThrow("patchify: images [1,3,6,6]: height 6 and width 6 must be multiples of patchSize 4");
    expect(() => patchify(T.zeros([3, 8, 8]), 4)).toThrow("patchify: images must be [B, C, H, W], got [3,8,8]");
    expect(() => unpatchify(T.zeros([1, 4, 10]), 2, 3)).toThrow("unpatchify: patches [1,4,10]: the last axis must be patchSize^2 * channels = 12");
    expect(() => unpatchify(T.zeros([1, 5, 12]), 2, 3)).toThrow(/unpatchify: patches \[1,5,12\]: 5 patches do not tile a square image/);
  });
});

describe("MaskedAutoencoderViT", () => {
  it("shapes: pred [B, N, p p C], mask [B, N] with exactly N - floor(N (1 - r)) masked per row", () => {
    const m = mae();
    const out = m.forward(images(3, 2), { seed: 5 });
    expect(out.pred.shape).toEqual([3, 16, 32]);
    expect(out.logits).toBe(out.pred);
    expect(out.mask.shape).toEqual([3, 16]);
    expect(out.latent.shape).toEqual([3, 1 + 4, 24]); // CLS + floor(16 * 0.25) visible
    expect(out.loss.shape).toEqual([]);
    for (const r of rows(out.mask)) expect(r.reduce((a, b) => a + b)).toBe(12);
    const half = m.forward(images(3, 2), { seed: 5, maskRatio: 0.5 });
    for (const r of rows(half.mask)) expect(r.reduce((a, b) => a + b)).toBe(8);
    m.dispose();
  });

  it("the encoder sees only the visible patches: changing masked pixels leaves its output unchanged", () => {
    const m = mae(2);
    const x = images(2, 3);
    const masking = m.masking(2, { seed: 11 });
    const maskRows = rows(masking.mask);
    const a = m.encodeVisible(x, masking);
    // Overwrite every masked patch's pixels (patch (i, j) covers rows 4i.., columns 4j..).
    const px = Array.from(x.dataSync());
    for (let b = 0; b < 2; b++)
      for (let n = 0; n < 16; n++) {
        if (!maskRows[b][n]) continue;
        const [i, j] = [Math.floor(n / 4), n % 4];
        for (let ch = 0; ch < 2; ch++) for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) px[b * 512 + ch * 256 + (4 * i + r) * 16 + 4 * j + c] = 100 + r - c;
      }
    const changed = T.tensor(px, { shape: [2, 2, 16, 16] });
    expect(maxAbs(T.sub(m.encodeVisible(changed, masking), a))).toBe(0);
    // ... while one visible pixel changes it.
    const visible = maskRows[0].indexOf(0);
    const [i, j] = [Math.floor(visible / 4), visible % 4];
    px[4 * i * 16 + 4 * j] += 1;
    expect(maxAbs(T.sub(m.encodeVisible(T.tensor(px, { shape: [2, 2, 16, 16] }), masking), a))).toBeGreaterThan(1e-4);
    m.dispose();
  });

  it("masking from noise: ascending argsort kept, idsRestore the inverse permutation, mask 1 elsewhere", () => {
    const m = mae();
    const noise = T.tensor([
      [0.9, 0.1, 0.5, 0.3, 0.8, 0.2, 0.7, 0.0, 0.6, 0.4, 0.15, 0.95, 0.55, 0.35, 0.75, 0.25],
      [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96],
    ]);
    const r = m.masking(2, { noise });
    expect(rows(r.idsKeep)).toEqual([
      [7, 1, 10, 5],
      [0, 1, 2, 3],
    ]);
    const restore = rows(r.idsRestore);
    const shuffle = [
      [7, 1, 10, 5, 15, 3, 13, 9, 2, 12, 8, 6, 14, 4, 0, 11],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    ];
    for (let b = 0; b < 2; b++) for (let j = 0; j < 16; j++) expect(restore[b][shuffle[b][j]]).toBe(j);
    expect(rows(r.mask)[0]).toEqual([1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1]);
    m.dispose();
  });

  it("unshuffle: with no decoder blocks each visible patch's prediction comes from its own encoder token", () => {
    const d = 8;
    const enc = [vitBlock({ dModel: d, nHeads: 2, hidden: 16, activation: "gelu", eps: 1e-6, seed: 1 }, {}, 0)];
    const m = new MaskedAutoencoderViT({ imageSize: 8, patchSize: 2, channels: 1, dModel: d, blocks: enc, decoderDim: 4, decoderBlocks: [], eps: 1e-6, seed: 3 });
    const x = T.normal([1, 1, 8, 8], 0, 1, { seed: 4 });
    const masking = m.masking(1, { seed: 9, maskRatio: 0.5 });
    const keep = rows(masking.idsKeep)[0];
    const latent = m.encodeVisible(x, masking); // [1, 1 + 8, 8]
    const base = m.decode(latent, masking.idsRestore);
    // Perturb the encoder token of the 3rd visible patch: only that patch's prediction moves.
    const bump = T.tensor(
      Array.from({ length: 9 * d }, (_, k) => (Math.floor(k / d) === 3 ? 0.5 : 0)),
      { shape: [1, 9, d] },
    ); // token 3 = visible patch 2
    const moved = m.decode(T.add(latent, bump), masking.idsRestore);
    const delta = rows(T.max(T.abs(T.sub(moved, base)), -1))[0];
    for (let n = 0; n < 16; n++) {
      if (n === keep[2]) expect(delta[n], `patch ${n}`).toBeGreaterThan(1e-5);
      else expect(delta[n], `patch ${n}`).toBe(0);
    }
    m.dispose();
  });

  it("the loss is MAE's formula over masked patches only (host computation), with and without normPix", () => {
    for (const normPix of [false, true]) {
      const m = mae(4, { norm_pix_loss: normPix });
      const x = images(2, 6);
      const out = m.forward(x, { seed: 3 });
      const pred = rows(out.pred);
      const tgt = rows(patchify(x, 4));
      const mask = rows(out.mask).flat();
      let num = 0;
      let den = 0;
      for (let k = 0; k < pred.length; k++) {
        let t = tgt[k];
        if (normPix) {
          const mu = t.reduce((a, b) => a + b) / t.length;
          const v = t.reduce((a, b) => a + (b - mu) ** 2, 0) / (t.length - 1);
          t = t.map((z) => (z - mu) / Math.sqrt(v + 1e-6));
        }
        const mse = pred[k].reduce((a, p, i) => a + (p - t[i]) ** 2, 0) / t.length;
        num += mse * mask[k];
        den += mask[k];
      }
      expect(Math.abs(out.loss.dataSync()[0] - num / den) / (num / den)).toBeLessThan(1e-5);
      m.dispose();
    }
  });

  it("encode: all patches, no masking; CLS, mean of patch tokens, or every token", () => {
    const m = mae(5);
    const x = images(2, 7);
    const all = m.encode(x, { pool: "none" });
    expect(all.shape).toEqual([2, 17, 24]);
    expect(maxAbs(T.sub(m.encode(x), T.select(all, 1, 0)))).toBe(0);
    expect(maxAbs(T.sub(m.encode(x, { pool: "mean" }), T.mean(T.narrow(all, 1, 1, 16), 1)))).toBeLessThan(1e-6);
    // The same as the masked path with nothing masked (ratio 0 keeps all 16, in shuffled order).
    const none = m.masking(2, { seed: 1, maskRatio: 0 });
    const visible = m.encodeVisible(x, none);
    const cls = T.select(visible, 1, 0);
    expect(maxAbs(T.sub(cls, m.encode(x)))).toBeLessThan(1e-5);
    m.dispose();
  });

  it("gradients reach the encoder, the decoder and the mask token; positions are fixed buffers", () => {
    const m = mae(6);
    const x = images(2, 8);
    const { value, grads } = T.gradients(() => m.forward(x, { seed: 2 }).loss, m.namedParameters());
    for (const k of ["patch.weight", "blocks.0.mixer.q.weight", "decoderEmbed.weight", "maskToken", "decoderBlocks.0.mlp.up.weight", "decoderPred.weight"]) {
      expect(maxAbs(grads[k]), k).toBeGreaterThan(0);
    }
    expect(Object.keys(grads)).not.toContain("pos");
    expect(Object.keys(m.namedBuffers()).sort()).toEqual(["decoderPos", "pos"]);
    expect(value.dataSync()[0]).toBeGreaterThan(0);
    T.dispose([value, ...Object.values(grads)]);
    m.dispose();
  });

  it("memory stays flat over repeated forward passes", () => {
    const m = mae(7);
    const x = images(2, 9);
    let after = 0;
    for (let s = 0; s < 4; s++) {
      T.tidy(() => {
        m.forward(x, { seed: s });
      });
      if (s === 0) after = T.memory().numTensors;
    }
    expect(T.memory().numTensors).toBe(after);
    m.dispose();
  });

  it("errors name the argument and the shapes", () => {
    const bad = (o: object) => () => new MaskedAutoencoderViT(o as never);
    expect(bad({ imageSize: 16, patchSize: 4, channels: 1, dModel: 32, depth: 2, decoderDim: 16, decoderBlocks: [], eps: 1e-6 })).toThrow(
      "MaskedAutoencoderViT: blocks must be an array of blocks, got undefined",
    );
    expect(bad({ imageSize: 16, patchSize: 4, channels: 1, dModel: 32, blocks: [], decoderDim: 16, decoderBlocks: [] })).toThrow(
      "MaskedAutoencoderViT: eps must be a positive number, got undefined",
    );
    expect(bad({ imageSize: 16, patchSize: 4, channels: 1, dModel: 0, blocks: [], decoderDim: 16, decoderBlocks: [], eps: 1e-6 })).toThrow(
      "MaskedAutoencoderViT: dModel must be a positive integer, got 0",
    );
    expect(() => new BeitForMaskedImageModeling({ imageSize: 16, patchSize: 4, channels: 1, dModel: 32, vocabSize: 8, eps: 1e-6 } as never)).toThrow(
      "BeitForMaskedImageModeling: blocks must be an array of blocks, got undefined",
    );
    expect(() => new Electra({} as never)).toThrow("Electra: generator is required");
    const m = mae();
    expect(() => m.forward(T.zeros([2, 3, 16, 16]))).toThrow("MaskedAutoencoderViT.forward: images [2,3,16,16] must be [B, 2, 16, 16]");
    expect(() => m.forward(images(2, 1), { noise: T.zeros([2, 15]) })).toThrow("MaskedAutoencoderViT.masking: noise [2,15] must be [B, N] = [2, 16]");
    expect(() => m.forward(images(2, 1), { maskRatio: 1 })).toThrow("MaskedAutoencoderViT.masking: maskRatio must be in [0, 1), got 1");
    expect(() => m.encode(images(1, 1), { pool: "max" as "cls" })).toThrow("MaskedAutoencoderViT.encode: pool must be 'cls', 'mean' or 'none', got 'max'");
    expect(() => m.decode(T.zeros([2, 5, 16]), T.zeros([2, 16], { dtype: "int32" }))).toThrow("MaskedAutoencoderViT.decode: latent [2,5,16] must be [B, 1 + keep, 24]");
    expect(() => m.decode(T.zeros([2, 5, 24]), T.zeros([2, 15], { dtype: "int32" }))).toThrow("MaskedAutoencoderViT.decode: idsRestore [2,15] must be [B, N] = [2, 16]");
    expect(() => m.encodeVisible(images(2, 1), { idsKeep: T.zeros([3, 4], { dtype: "int32" }) })).toThrow(
      "MaskedAutoencoderViT.encodeVisible: idsKeep [3,4] must be [B = 2, keep]",
    );
    expect(() => modelFromConfig({ ...CONFIG, mask_ratio: 1 })).toThrow("config.json (vit_mae) field 'mask_ratio' must be below 1, got 1");
    expect(() => modelFromConfig({ ...CONFIG, decoder_hidden_size: 18, decoder_num_attention_heads: 2 })).toThrow(/decoder_hidden_size 18 must be a multiple of 4/);
    m.dispose();
  });
});

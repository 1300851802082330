/**
 * BEiT masked image modelling (Bao et al. 2022) by its definition: masked patches are replaced by
 * the mask token (so their pixels cannot matter), block-wise masks of the asked size are drawn
 * when none is given, the loss is the cross-entropy over masked patches only (host computation),
 * the relative position index follows §2.2, gradients reach the mask token, and bad input is named.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { modelFromConfig, RelativePositionBias, type SelfAttention } from "../src/index";

const CONFIG = {
  model_type: "beit",
  image_size: 16,
  patch_size: 4,
  num_channels: 3,
  hidden_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 3,
  intermediate_size: 48,
  vocab_size: 30,
  use_mask_token: true,
  use_shared_relative_position_bias: true,
  use_relative_position_bias: true,
  layer_scale_init_value: 0.1,
};
const beit = (seed = 1, extra: Record<string, unknown> = {}) => modelFromConfig({ ...CONFIG, ...extra }, { task: "masked-image-modeling", seed }).model;
const maxAbs = (t: T.Tensor) => T.tidy(() => T.max(T.abs(t)).dataSync()[0]);

describe("BEiT masked image modelling", () => {
  it("masked patches become the mask token: their pixels do not change any output, visible ones do", () => {
    const m = beit(2);
    // Relative biases start at zero as in Hugging Face; give them values so they matter here.
    for (const t of [m.sharedBias!.table, ...[...m.blocks].map((b) => b.relativeBias!.table)]) T.assign(t, T.normal(t.shape, 0, 0.5, { seed: 3 }));
    const x = T.normal([1, 3, 16, 16], 0, 1, { seed: 4 });
    const mask = T.tensor([[1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]); // the 2x2 block at the top left
    const a = m.forward(x, { mask }).logits;
    expect(a.shape).toEqual([1, 16, 30]);
    const px = Array.from(x.dataSync());
    for (let ch = 0; ch < 3; ch++) for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) px[ch * 256 + r * 16 + c] = 50;
    expect(maxAbs(T.sub(m.forward(T.tensor(px, { shape: [1, 3, 16, 16] }), { mask }).logits, a))).toBe(0);
    px[15 * 16 + 15] += 1; // a visible pixel (bottom-right patch)
    expect(maxAbs(T.sub(m.forward(T.tensor(px, { shape: [1, 3, 16, 16] }), { mask }).logits, a))).toBeGreaterThan(1e-5);
    m.dispose();
  });

  it("without a mask, block-wise masks of numMasked patches per image are drawn (seeded)", () => {
    const m = beit(3);
    const x = T.normal([3, 3, 16, 16], 0, 1, { seed: 5 });
    const r = m.forward(x, { numMasked: 6, seed: 2 });
    expect(r.mask.shape).toEqual([3, 16]);
    const v = Array.from(r.mask.dataSync());
    for (let b = 0; b < 3; b++) expect(v.slice(b * 16, (b + 1) * 16).reduce((s, z) => s + z)).toBe(6);
    expect(Array.from(m.forward(x, { numMasked: 6, seed: 2 }).mask.dataSync())).toEqual(v);
    m.dispose();
  });

  it("the loss is the cross-entropy over masked patches only (host computation); grads reach the mask token", () => {
    const m = beit(4, { use_relative_position_bias: false, use_shared_relative_position_bias: false, use_absolute_position_embeddings: true });
    const x = T.normal([2, 3, 16, 16], 0, 1, { seed: 6 });
    const mask = T.tensor([
      [0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0],
    ]);
    const codes = T.randint(0, 30, [2, 16], { seed: 7, dtype: "int32" });
    const r = m.forward(x, { mask, codes });
    const z = Array.from(r.logits.dataSync());
    const c = Array.from(codes.dataSync());
    const mk = Array.from(mask.dataSync());
    let num = 0;
    let den = 0;
    for (let k = 0; k < 32; k++) {
      if (!mk[k]) continue;
      const row = z.slice(k * 30, (k + 1) * 30);
      const top = Math.max(...row);
      const lse = top + Math.log(row.reduce((s, v) => s + Math.exp(v - top), 0));
      num += lse - row[c[k]];
      den++;
    }
    expect(Math.abs(r.loss!.dataSync()[0] - num / den) / (num / den)).toBeLessThan(1e-5);
    const { grads } = T.gradients(() => m.forward(x, { mask, codes }).loss!, m.namedParameters());
    for (const k of ["maskToken", "cls", "pos", "patch.weight", "blocks.0.lambda1", "blocks.1.mixer.q.weight", "head.weight"]) expect(maxAbs(grads[k]), k).toBeGreaterThan(0);
    const attn = m.blocks.at(0).mixer as SelfAttention;
    expect(attn.k!.bias).toBeNull(); // BEiT's key projection has no bias
    expect(attn.q!.bias).not.toBeNull();
    m.dispose();
  });

  it("the relative position index: (dy, dx) offsets of §2.2 plus the three CLS rows", () => {
    const rb = new RelativePositionBias(2, 2, 1);
    const rows = (2 * 2 - 1) * (2 * 2 - 1) + 3; // 12
    T.assign(rb.table, T.arange(0, rows, 1, { dtype: "float32" }).reshape([rows, 1]));
    const b = Array.from(rb.forward().dataSync()); // [1, 1, 5, 5] holds the table row used
    const at = (i: number, j: number) => b[i * 5 + j];
    expect(at(0, 0)).toBe(11); // cls -> cls
    expect([1, 2, 3, 4].map((j) => at(0, j))).toEqual([9, 9, 9, 9]); // cls -> token
    expect([1, 2, 3, 4].map((i) => at(i, 0))).toEqual([10, 10, 10, 10]); // token -> cls
    // patch i at (yi, xi), j at (yj, xj): row (yi - yj + 1) * 3 + (xi - xj + 1)
    const pos = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(at(i + 1, j + 1)).toBe((pos[i][0] - pos[j][0] + 1) * 3 + (pos[i][1] - pos[j][1] + 1));
    rb.dispose();
  });

  it("errors name the argument and the shapes", () => {
    const m = beit(5);
    const x = T.zeros([2, 3, 16, 16]);
    expect(() => m.forward(T.zeros([2, 1, 16, 16]))).toThrow("BeitForMaskedImageModeling.forward: images [2,1,16,16] must be [B, 3, 16, 16]");
    expect(() => m.forward(x, { mask: T.zeros([2, 15]) })).toThrow("BeitForMaskedImageModeling.forward: mask [2,15] must be [B, N] = [2, 16] (or [B, 4, 4])");
    expect(() => m.forward(x, { mask: T.zeros([2, 16]), codes: T.zeros([2, 8], { dtype: "int32" }) })).toThrow(
      "BeitForMaskedImageModeling.forward: codes [2,8] must be [B, N] = [2, 16]",
    );
    expect(() => modelFromConfig({ ...CONFIG, use_mask_token: false })).toThrow(
      "config.json (beit) field 'use_mask_token' = false is not supported: masked image modelling needs the mask token",
    );
    m.dispose();
  });
});

/**
 * VQTokenizer: shapes at both downsampling factors and both upsamplings, encode/decode against
 * the forward pass, a codebook that does not move under encode, k-means-initialised usage, a
 * reconstruction loss that falls on a tiny training loop, flat memory, and the error paths.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { VQTokenizer } from "../src/index";

/** B images [B, 1, S, S] in [-1, 1]: a bright bar (row or column, position from the index) on a dark field. */
function bars(B: number, S: number, offset = 0): T.Tensor {
  const px = new Float32Array(B * S * S).fill(-1);
  for (let b = 0; b < B; b++) {
    const k = b + offset;
    const at = (k * 3) % (S - 3);
    for (let i = 0; i < S; i++) {
      for (let j = at; j < at + 3; j++) {
        if (k % 2)
          px[b * S * S + i * S + j] = 1; // column
        else px[b * S * S + j * S + i] = 1; // row
      }
    }
  }
  return T.tensor(px, { shape: [B, 1, S, S] });
}

const tiny = { imageSize: 16, widths: [8, 16], groups: 4, latentDim: 8, codebookSize: 32, seed: 1 } as const;

describe("VQTokenizer", () => {
  it("shapes: downsample 4 and 8, transposed and nearest upsampling, non-square images", () => {
    const x = T.normal([2, 1, 28, 28], 0, 1, { seed: 1 });
    const t4 = new VQTokenizer({ imageSize: 28, widths: [8, 16], groups: 4, codebookSize: 16, seed: 1 });
    const out = t4.forward(x);
    expect(out.reconstruction.shape).toEqual([2, 1, 28, 28]);
    expect(out.codes.shape).toEqual([2, 7, 7]);
    expect(out.codes.dtype).toBe("int32");
    expect(out.loss.shape.reduce((a, b) => a * b, 1)).toBe(1);
    expect(t4.gridSize).toEqual([7, 7]);
    // loss = reconstruction + commitment
    expect(out.loss.itemSync()).toBeCloseTo(out.reconstructionLoss.itemSync() + out.commitmentLoss.itemSync(), 5);

    const t8 = new VQTokenizer({ imageSize: 32, channels: 3, downsample: 8, widths: [8, 8, 16], groups: 4, codebookSize: 16, upsampling: "nearest", seed: 2 });
    const o8 = t8.forward(T.normal([3, 3, 32, 32], 0, 1, { seed: 2 }));
    expect(o8.reconstruction.shape).toEqual([3, 3, 32, 32]);
    expect(o8.codes.shape).toEqual([3, 4, 4]);

    const rect = new VQTokenizer({ imageSize: [16, 32], widths: [8, 8], groups: 4, resBlocks: 2, seed: 3 });
    expect(rect.encode(T.normal([1, 1, 16, 32], 0, 1, { seed: 3 })).shape).toEqual([1, 4, 8]);
    expect(rect.decode(T.zeros([2, 4, 8], { dtype: "int32" })).shape).toEqual([2, 1, 16, 32]);
  });

  it("encode and decode give forward's codes and reconstruction (eval), and encode leaves the codebook alone", () => {
    const tok = new VQTokenizer(tiny);
    const x = bars(6, 16);
    tok.forward(x); // training mode: k-means init and one EMA step
    const embed = Array.from(tok.quantizer.embed.dataSync());
    const codes = tok.encode(x);
    expect(Array.from(tok.quantizer.embed.dataSync())).toEqual(embed); // no EMA update, no restart
    expect(tok.training && tok.quantizer.training).toBe(true); // the mode is restored
    tok.eval();
    const ref = tok.forward(x);
    expect(Array.from(codes.dataSync())).toEqual(Array.from(ref.codes.dataSync()));
    const rec = tok.decode(codes);
    const a = rec.dataSync();
    const b = ref.reconstruction.dataSync();
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
    expect(err).toBeLessThan(1e-5);
    // decode(codes) is the decoder on the codebook vectors of the codes: the same image for the same code grid.
    const twice = tok.decode(T.concat([codes, codes], 0)).dataSync();
    let err2 = 0;
    for (let i = 0; i < a.length; i++) err2 = Math.max(err2, Math.abs(twice[i] - a[i]), Math.abs(twice[a.length + i] - a[i]));
    expect(err2).toBeLessThan(1e-5); // batch size changes the GEMM's summation blocks only
  });

  it("k-means init spreads the first batch over the codebook; training keeps it in use", () => {
    const tok = new VQTokenizer({ ...tiny, codebookSize: 16 });
    const first = tok.forward(bars(16, 16));
    // 16 images x 16 positions = 256 vectors, 16 centres: k-means++ leaves few codes empty.
    expect(first.usage!).toBeGreaterThanOrEqual(0.75);
    expect(first.perplexity!).toBeGreaterThan(6);
    // Without k-means init (uniform codes far from the latents) the same batch lands on fewer codes.
    const plain = new VQTokenizer({ ...tiny, codebookSize: 16, quantizer: { kmeansInit: false, deadCodeThreshold: 0 } });
    expect(plain.forward(bars(16, 16)).usage!).toBeLessThan(first.usage!);
  });

  it("the reconstruction loss falls on a tiny training loop (30 AdamW steps: below half)", () => {
    const tok = new VQTokenizer(tiny);
    const params = tok.namedParameters();
    const opt = new T.AdamW(params, { lr: 3e-3 });
    const x = bars(12, 16);
    const rec: number[] = [];
    let usage = 0;
    for (let step = 0; step < 30; step++) {
      let r = 0;
      const { value, grads } = T.gradients(() => {
        const o = tok.forward(x);
        r = o.reconstructionLoss.itemSync();
        usage = o.usage!;
        return o.loss;
      }, params);
      rec.push(r);
      opt.step(grads);
      T.dispose([value, grads]);
    }
    const head = rec.slice(0, 3).reduce((a, b) => a + b) / 3;
    const tail = rec.slice(-3).reduce((a, b) => a + b) / 3;
    expect(tail, `${head} -> ${tail}`).toBeLessThan(0.5 * head);
    expect(usage).toBeGreaterThan(0.25); // dead-code restart keeps codes in play
  });

  it("memory stays flat over encode / decode / forward in a loop", () => {
    const tok = new VQTokenizer(tiny);
    const x = bars(4, 16);
    const run = () => {
      const o = tok.forward(x);
      T.dispose([o.reconstruction, o.codes, o.loss, o.reconstructionLoss, o.commitmentLoss]);
      const c = tok.encode(x);
      tok.decode(c).dispose();
      c.dispose();
    };
    run();
    const before = T.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(T.memory().numTensors).toBe(before);
  });

  it("errors name the argument and the shapes", () => {
    expect(() => new VQTokenizer({ imageSize: 28, downsample: 8 })).toThrow(/VQTokenizer: imageSize height 28 must be a positive multiple of downsample 8/);
    expect(() => new VQTokenizer({ imageSize: 32, downsample: 2 as 4 })).toThrow(/downsample must be 4 or 8, got 2/);
    expect(() => new VQTokenizer({ imageSize: 32, widths: [16] })).toThrow(/widths \[16\] must have one entry per halving: 2 for downsample 4/);
    expect(() => new VQTokenizer({ imageSize: 32, widths: [12, 16] })).toThrow(/widths\[0\] = 12 must be a positive multiple of groups 8/);
    expect(() => new VQTokenizer({ imageSize: 32, codebookSize: 0 })).toThrow(/codebookSize must be a positive integer, got 0/);
    expect(() => new VQTokenizer({ imageSize: 32, upsampling: "bicubic" as "nearest" })).toThrow(/upsampling must be "transpose" or "nearest"/);
    const tok = new VQTokenizer(tiny);
    expect(() => tok.forward(T.zeros([1, 1, 16, 16]))).toThrow(
      /VQTokenizer.forward: the first training batch \[1,1,16,16\] gives 16 latents, but k-means initialisation of 32 codes needs at least that many/,
    );
    expect(() => tok.forward(T.zeros([2, 3, 16, 16]))).toThrow(/VQTokenizer.forward: images \[2,3,16,16\] must be \[B, 1, 16, 16\]/);
    expect(() => tok.encode(T.zeros([2, 16, 16]))).toThrow(/VQTokenizer.encode: images \[2,16,16\] must be \[B, 1, 16, 16\]/);
    expect(() => tok.encode(T.zeros([1, 1, 16, 16], { dtype: "int32" }))).toThrow(/images must be float32, got int32/);
    expect(() => tok.decode(T.zeros([2, 4, 5], { dtype: "int32" }))).toThrow(/VQTokenizer.decode: codes \[2,4,5\] must be \[B, 4, 4\]/);
    expect(() => tok.decode(T.zeros([2, 4, 4]))).toThrow(/codes must be int32, got float32/);
    expect(() => tok.decode(T.full([1, 4, 4], 32, { dtype: "int32" }))).toThrow(/embedding/);
  });
});

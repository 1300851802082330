/**
 * The MaskGIT experiment's machinery, never its real run: the PNG writer against zlib and the
 * CRC-32 check value, the grid layout, per-class accuracy by hand, token-by-token decoding's one
 * forward pass per token, and the whole experiment on its seconds-long `quick` configuration.
 */
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { MaskGITTransformer } from "@tessera/models";
import { crc32, encodeGrayPng, tileGrid } from "../src/accuracy/png";
import { classAccuracy, imageBatch, imageSet, toBytes, tokenByTokenDecode } from "../src/accuracy/image-gen";
import { MASKGIT_CONFIGS, runMaskgit } from "../src/accuracy/experiments/maskgit";
import { experimentByName } from "../src/accuracy/experiments/index";

describe("PNG writer", () => {
  it("crc32 has the standard check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it("a grayscale PNG: signature, IHDR fields, chunk CRCs, scanlines that inflate back to the pixels", () => {
    const [w, h] = [5, 3];
    const px = Uint8Array.from({ length: w * h }, (_, i) => (i * 17) % 256);
    const png = encodeGrayPng(px, w, h);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer, png.byteOffset);
    const chunks: { type: string; data: Uint8Array }[] = [];
    for (let at = 8; at < png.length; ) {
      const len = view.getUint32(at);
      const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
      const data = png.subarray(at + 8, at + 8 + len);
      expect(view.getUint32(at + 8 + len), type).toBe(crc32(png.subarray(at + 4, at + 8 + len)));
      chunks.push({ type, data });
      at += 12 + len;
    }
    expect(chunks.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
    const ihdr = new DataView(chunks[0].data.buffer, chunks[0].data.byteOffset);
    expect([ihdr.getUint32(0), ihdr.getUint32(4), ...chunks[0].data.subarray(8)]).toEqual([5, 3, 8, 0, 0, 0, 0]);
    const raw = inflateSync(chunks[1].data);
    expect(raw.length).toBe(h * (w + 1));
    for (let y = 0; y < h; y++) {
      expect(raw[y * (w + 1)]).toBe(0); // filter None
      expect(Array.from(raw.subarray(y * (w + 1) + 1, (y + 1) * (w + 1)))).toEqual(Array.from(px.subarray(y * w, (y + 1) * w)));
    }
    expect(() => encodeGrayPng(px, 4, 3)).toThrow(/15 pixels for 4x3/);
  });

  it("tileGrid places image k at row floor(k / cols), column k mod cols, inside a gap border", () => {
    const imgs = [0, 1, 2, 3, 4, 5].map((k) => new Uint8Array(4).fill(10 + k)); // 2x2 images
    const { pixels, width, height } = tileGrid(imgs, 2, 3, 2, 1, 0);
    expect([width, height]).toEqual([3 * 3 + 1, 2 * 3 + 1]);
    expect(pixels[0]).toBe(0); // border
    expect(pixels[1 * width + 1]).toBe(10); // image 0 at (1, 1)
    expect(pixels[1 * width + 1 + 3 * 2]).toBe(12); // image 2: row 0, column 2
    expect(pixels[(1 + 3) * width + 1 + 3]).toBe(14); // image 4: row 1, column 1
    expect(() => tileGrid(imgs, 2, 2, 2)).toThrow(/6 images for a 2x2 grid/);
  });
});

describe("experiment pieces", () => {
  it("classAccuracy: per class, the mean over classes present, overall", () => {
    const a = classAccuracy([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0]);
    expect(a.perClass.slice(0, 3)).toEqual([0.5, 0.5, 1]);
    expect(a.mean).toBeCloseTo(2 / 3, 12);
    expect(a.overall).toBeCloseTo(4 / 6, 12);
    expect(Number.isNaN(a.perClass[5])).toBe(true);
  });

  it("images: [-1, 1] scaling, mirrored batches and 8-bit pixels back", () => {
    const px = Uint8Array.from({ length: 784 }, (_, i) => (i % 28 === 0 ? 255 : 0)); // left column white
    const set = imageSet([{ pixels: px, label: 3 }]);
    expect([set.pixels[0], set.pixels[1]]).toEqual([1, -1]);
    const [plain, mirrored] = toBytes(imageBatch(set, [0, 0], [false, true]));
    expect(Array.from(plain)).toEqual(Array.from(px));
    expect([mirrored[0], mirrored[27]]).toEqual([0, 255]);
  });

  it("token-by-token decoding makes one forward pass per token and fills every position with a code", () => {
    const model = new MaskGITTransformer({ codebookSize: 8, length: 6, numClasses: 10, dModel: 16, layers: 1, heads: 2, seed: 1 });
    let passes = 0;
    const orig = model.forward.bind(model);
    model.forward = (x: T.Tensor) => {
      passes++;
      return orig(x);
    };
    const codes = tokenByTokenDecode(model, [0, 5, 9], 1);
    expect(passes).toBe(6);
    expect(codes.shape).toEqual([3, 6]);
    expect(Array.from(codes.dataSync()).every((c) => c >= 0 && c < 8)).toBe(true);
  });

  it("the quick configuration runs end to end: four rows, a PNG of the sample grid", async () => {
    expect(experimentByName("maskgit").name).toBe("maskgit");
    const lines: string[] = [];
    const { rows, table, png } = await runMaskgit(MASKGIT_CONFIGS.quick, (s) => lines.push(s));
    expect(rows.map((r) => r.condition)).toEqual(["real test images", "tokenizer reconstructions", "maskgit 8 steps", "token by token 49 steps"]);
    expect(rows[0].testCount).toBe(50);
    expect(rows[2].testCount).toBe(10);
    for (const r of rows) expect(r.accuracy >= 0 && r.accuracy <= 1).toBe(true);
    expect(rows[3].forwardPasses).toBe(49);
    expect(table).toMatch(/MaskGIT decodes [\d.]+x faster/);
    expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
  });
});

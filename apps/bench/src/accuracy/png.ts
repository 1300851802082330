/**
 * A minimal PNG writer for 8-bit grayscale images (PNG spec, ISO/IEC 15948: signature, IHDR,
 * one IDAT of zlib-deflated scanlines each prefixed by filter type 0, IEND; CRC-32 over each
 * chunk's type and data), and a helper that tiles equal-sized images into a grid.
 */
import { deflateSync } from "node:zlib";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as zlib's crc32). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** PNG bytes of a width x height grayscale image (pixels row-major, 0 = black, 255 = white). */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`encodeGrayPng: size ${width}x${height} must be positive integers`);
  if (pixels.length !== width * height) throw new Error(`encodeGrayPng: ${pixels.length} pixels for ${width}x${height}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, colour type 0 (grayscale), deflate, adaptive filtering, no interlace
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1); // filter byte 0: None
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Tiles `rows x cols` images of side x side pixels (row-major list) with a `gap`-pixel border of
 * value `background`; returns the grid's pixels and size.
 */
export function tileGrid(images: Uint8Array[], rows: number, cols: number, side: number, gap = 2, background = 128): { pixels: Uint8Array; width: number; height: number } {
  if (images.length !== rows * cols) throw new Error(`tileGrid: ${images.length} images for a ${rows}x${cols} grid`);
  const width = cols * (side + gap) + gap;
  const height = rows * (side + gap) + gap;
  const pixels = new Uint8Array(width * height).fill(background);
  images.forEach((img, k) => {
    if (img.length !== side * side) throw new Error(`tileGrid: image ${k} has ${img.length} pixels, expected ${side}x${side}`);
    const [r, c] = [Math.floor(k / cols), k % cols];
    for (let y = 0; y < side; y++) pixels.set(img.subarray(y * side, (y + 1) * side), (gap + r * (side + gap) + y) * width + gap + c * (side + gap));
  });
  return { pixels, width, height };
}

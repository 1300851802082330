#!/usr/bin/env node
/**
 * Vendors a small, class-balanced, fixed subset of Fashion-MNIST into apps/bench/data/fashion-mnist/
 * from the official IDX files shipped by Debian's `dataset-fashion-mnist` package
 * (/usr/share/datasets/fashion-mnist; `apt-get install -y dataset-fashion-mnist`), so the bench
 * needs neither apt nor the network:
 *
 *   node apps/bench/scripts/vendor-fashion-mnist.mjs [--src DIR] [--out DIR]
 *
 * Selection (`selectBalanced`): for each class c = 0..9 in turn, the indices of that class in file
 * order are shuffled by a Fisher-Yates pass driven by Mulberry32(seed) (one generator for the whole
 * split: seed 1 for train, 2 for test) and the first PER_CLASS are kept (200 train, 50 test);
 * the kept indices are then sorted ascending. Written per split: `<split>-images.u8.gz` (gzip of
 * N x 784 uint8 pixels, row-major, in that order), `<split>-labels.u8` (N uint8 labels), plus
 * `official/*-labels-idx1-ubyte.gz` (the official label files, copied byte for byte, so the
 * selection can be recomputed without apt) and `manifest.json` (source hashes, seeds, indices,
 * SHA-256 of the raw pixels and labels). Re-running it gives the same bytes.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

export const IMAGE_BYTES = 28 * 28;
export const SPLITS = {
  train: { file: "train", seed: 1, perClass: 200 },
  test: { file: "t10k", seed: 2, perClass: 50 },
};

/** Mulberry32 (the same generator as apps/bench/src/tasks/random.ts). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses an IDX file (gunzipped): labels (magic 2049) or 28 x 28 images (magic 2051). */
export function parseIdx(buf) {
  const magic = buf.readUInt32BE(0);
  const n = buf.readUInt32BE(4);
  if (magic === 2049) return { count: n, data: new Uint8Array(buf.buffer, buf.byteOffset + 8, n) };
  if (magic === 2051) {
    if (buf.readUInt32BE(8) !== 28 || buf.readUInt32BE(12) !== 28) throw new Error("expected 28 x 28 images");
    return { count: n, data: new Uint8Array(buf.buffer, buf.byteOffset + 16, n * IMAGE_BYTES) };
  }
  throw new Error(`not an IDX label/image file (magic ${magic})`);
}

/** The selected indices (ascending) of a balanced subset: `perClass` of each of the 10 classes. */
export function selectBalanced(labels, perClass, seed) {
  const rng = mulberry32(seed);
  const picked = [];
  for (let c = 0; c < 10; c++) {
    const idx = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) idx.push(i);
    if (idx.length < perClass) throw new Error(`class ${c}: ${idx.length} < ${perClass} images`);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    picked.push(...idx.slice(0, perClass));
  }
  return picked.sort((a, b) => a - b);
}

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

function main(argv) {
  const here = dirname(fileURLToPath(import.meta.url));
  let src = "/usr/share/datasets/fashion-mnist";
  let out = resolve(here, "../data/fashion-mnist");
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === "--src") src = argv[i + 1];
    else if (argv[i] === "--out") out = resolve(argv[i + 1]);
    else throw new Error(`unknown option ${argv[i]} (--src DIR, --out DIR)`);
  }
  mkdirSync(join(out, "official"), { recursive: true });
  const manifest = {
    source:
      "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), https://github.com/zalandoresearch/fashion-mnist, official IDX files as shipped by Debian's dataset-fashion-mnist package",
    license: "MIT (Expat), Copyright 2017 Zalando SE; see LICENSE",
    selection:
      "per split: for each class 0..9, Fisher-Yates shuffle of that class's indices (file order) with one Mulberry32(seed) per split, first perClass kept, then sorted ascending",
    imageBytes: IMAGE_BYTES,
    splits: {},
  };
  for (const [name, s] of Object.entries(SPLITS)) {
    const imagesGz = readFileSync(join(src, `${s.file}-images-idx3-ubyte.gz`));
    const labelsGz = readFileSync(join(src, `${s.file}-labels-idx1-ubyte.gz`));
    const images = parseIdx(gunzipSync(imagesGz));
    const labels = parseIdx(gunzipSync(labelsGz));
    if (images.count !== labels.count) throw new Error(`${name}: ${images.count} images, ${labels.count} labels`);
    const indices = selectBalanced(labels.data, s.perClass, s.seed);
    const pixels = new Uint8Array(indices.length * IMAGE_BYTES);
    const lab = new Uint8Array(indices.length);
    indices.forEach((k, i) => {
      pixels.set(images.data.subarray(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES), i * IMAGE_BYTES);
      lab[i] = labels.data[k];
    });
    writeFileSync(join(out, `${name}-images.u8.gz`), gzipSync(pixels, { level: 9 }));
    writeFileSync(join(out, `${name}-labels.u8`), lab);
    copyFileSync(join(src, `${s.file}-labels-idx1-ubyte.gz`), join(out, "official", `${s.file}-labels-idx1-ubyte.gz`));
    manifest.splits[name] = {
      count: indices.length,
      perClass: s.perClass,
      seed: s.seed,
      sourceImages: { file: `${s.file}-images-idx3-ubyte.gz`, count: images.count, sha256: sha256(imagesGz) },
      sourceLabels: { file: `${s.file}-labels-idx1-ubyte.gz`, count: labels.count, sha256: sha256(labelsGz) },
      pixelsSha256: sha256(pixels),
      labelsSha256: sha256(lab),
      indices,
    };
    console.log(`${name}: ${indices.length} images (${s.perClass} per class) from ${images.count}`);
  }
  // one line per index list
  const json = JSON.stringify(manifest, null, 1).replace(/\[\s+([\d,\s]+?)\s+\]/g, (_, list) => `[${list.replace(/\s+/g, "")}]`);
  writeFileSync(join(out, "manifest.json"), json + "\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main(process.argv.slice(2));

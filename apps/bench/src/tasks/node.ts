/**
 * The tasks entry for Node (dist/tasks-node.js): everything in dist/tasks.js plus `fashionMnist`,
 * which reads the vendored Fashion-MNIST subset (data/fashion-mnist/) with node:fs and node:zlib.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { decodeImages, type ImageExample } from "./fashion-mnist";
import type { TextExample } from "./spam-assassin";

export * from "./index";

/** A vendored data folder data/<name>/: found from this module upwards (src/tasks/ or dist/). */
function dataDir(name: string, op: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const d = join(dir, "data", name);
    if (existsSync(join(d, "manifest.json"))) return d;
    dir = dirname(dir);
  }
  throw new Error(`${op}: data/${name}/ not found above ${dirname(fileURLToPath(import.meta.url))}`);
}

/** The vendored Fashion-MNIST folder. */
export function fashionMnistDir(): string {
  return dataDir("fashion-mnist", "fashionMnist");
}

/** The vendored SpamAssassin folder. */
export function spamAssassinDir(): string {
  return dataDir("spam-assassin", "spamAssassin");
}

export const SPAM_ASSASSIN_SPLITS = ["pretrain", "train", "test"] as const;

/**
 * The vendored SpamAssassin subset (data/spam-assassin/README.md): pretrain = 1600 messages,
 * train = 600, test = 400, each half ham (label 0) and half spam (label 1), disjoint, sorted by id.
 */
export function spamAssassin(o: { split: (typeof SPAM_ASSASSIN_SPLITS)[number]; dir?: string }): TextExample[] {
  if (!SPAM_ASSASSIN_SPLITS.includes(o.split)) throw new Error(`spamAssassin: split must be one of ${SPAM_ASSASSIN_SPLITS.join(", ")}, got ${JSON.stringify(o.split)}`);
  const dir = o.dir ?? spamAssassinDir();
  const text = gunzipSync(readFileSync(join(dir, `${o.split}.jsonl.gz`))).toString("utf8");
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as TextExample);
}

/** The vendored subset: train = 2000 images (200 per class), test = 500 (50 per class), in index order. */
export function fashionMnist(o: { split: "train" | "test"; dir?: string }): ImageExample[] {
  if (o.split !== "train" && o.split !== "test") throw new Error(`fashionMnist: split must be "train" or "test", got ${JSON.stringify(o.split)}`);
  const dir = o.dir ?? fashionMnistDir();
  const pixels = new Uint8Array(gunzipSync(readFileSync(join(dir, `${o.split}-images.u8.gz`))));
  const labels = new Uint8Array(readFileSync(join(dir, `${o.split}-labels.u8`)));
  return decodeImages(pixels, labels);
}

/**
 * The tasks entry for Node (dist/tasks-node.js): everything in dist/tasks.js plus `fashionMnist`,
 * which reads the vendored Fashion-MNIST subset (data/fashion-mnist/) with node:fs and node:zlib.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { decodeImages, type ImageExample } from "./fashion-mnist";

export * from "./index";

/** The vendored data folder: found from this module upwards (src/tasks/ or dist/). */
export function fashionMnistDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const d = join(dir, "data", "fashion-mnist");
    if (existsSync(join(d, "manifest.json"))) return d;
    dir = dirname(dir);
  }
  throw new Error("fashionMnist: data/fashion-mnist/ not found above " + dirname(fileURLToPath(import.meta.url)));
}

/** The vendored subset: train = 2000 images (200 per class), test = 500 (50 per class), in index order. */
export function fashionMnist(o: { split: "train" | "test"; dir?: string }): ImageExample[] {
  if (o.split !== "train" && o.split !== "test") throw new Error(`fashionMnist: split must be "train" or "test", got ${JSON.stringify(o.split)}`);
  const dir = o.dir ?? fashionMnistDir();
  const pixels = new Uint8Array(gunzipSync(readFileSync(join(dir, `${o.split}-images.u8.gz`))));
  const labels = new Uint8Array(readFileSync(join(dir, `${o.split}-labels.u8`)));
  return decodeImages(pixels, labels);
}

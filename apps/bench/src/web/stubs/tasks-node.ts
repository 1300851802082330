/**
 * In the web page's bundle this replaces tasks/node.ts: Fashion-MNIST is read from the vendored
 * files on disk, so the image task runs from the CLI only (the page's quick task is induction heads).
 */
import type { ImageExample } from "../../tasks/fashion-mnist";

export * from "../../tasks/index";

export function fashionMnist(_o: { split: "train" | "test"; dir?: string }): ImageExample[] {
  throw new Error("fashionMnist: the image task reads Fashion-MNIST from disk and runs from the CLI only");
}

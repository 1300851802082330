/**
 * Fashion-MNIST constants and decoding (no I/O, browser-safe). The Node loader of the vendored
 * subset is `fashionMnist` in ./node.ts (dist/tasks-node.js); see data/fashion-mnist/README.md.
 */
export const FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"] as const;
export const FASHION_MNIST_SIDE = 28;
export const FASHION_MNIST_PIXELS = 28 * 28;

export interface ImageExample {
  /** 28 * 28 grayscale pixels, row-major (the 784 tokens of the sequential task). */
  pixels: Uint8Array;
  /** Class 0-9 (FASHION_MNIST_CLASSES). */
  label: number;
}

/** Splits decoded bytes (N * 784 pixels, N labels) into examples. */
export function decodeImages(pixels: Uint8Array, labels: Uint8Array): ImageExample[] {
  if (pixels.length !== labels.length * FASHION_MNIST_PIXELS) throw new Error(`decodeImages: ${pixels.length} pixel bytes for ${labels.length} labels`);
  return Array.from(labels, (label, i) => ({ pixels: pixels.slice(i * FASHION_MNIST_PIXELS, (i + 1) * FASHION_MNIST_PIXELS), label }));
}

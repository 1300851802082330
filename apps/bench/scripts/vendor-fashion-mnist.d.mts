/** Types of vendor-fashion-mnist.mjs's exports (for the tests). */
export declare const IMAGE_BYTES: number;
export declare const SPLITS: Record<"train" | "test", { file: string; seed: number; perClass: number }>;
export declare function mulberry32(seed: number): () => number;
export declare function parseIdx(buf: Buffer): { count: number; data: Uint8Array };
export declare function selectBalanced(labels: ArrayLike<number>, perClass: number, seed: number): number[];
export declare function sha256(bytes: Uint8Array): string;

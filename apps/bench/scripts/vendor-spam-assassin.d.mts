/** Types of vendor-spam-assassin.mjs's exports (for the tests). */
export declare const SOURCE: { package: string; version: string; integrity: string };
export declare const GROUPS: Record<string, 0 | 1>;
export declare const SPLIT_COUNTS: { test: number; train: number; pretrain: number };
export declare const SEED: number;
export declare const MAX_CHARS: number;
export declare const MIN_WORDS: number;
export declare function mulberry32(seed: number): () => number;
export declare function sha256(bytes: Uint8Array): string;
export declare function cleanMessage(raw: string): string;
export declare function jsonl(rows: { id: string; label: number; text: string }[]): string;

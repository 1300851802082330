/**
 * Typed reads of a Hugging Face config.json, with errors that name the field, the model type
 * and what was expected. `reject` turns a field this library does not implement into an error
 * instead of a silently different model.
 */
import { fail } from "../errors";

export type RawConfig = Record<string, unknown>;

/** Largest size field (a dimension, a vocabulary, a layer count) a config may give. */
export const MAX_SIZE = 2 ** 31 - 1;
/** Default limit on a model's float32 parameter bytes (8 GiB); BuildOptions.maxParameterBytes raises it. */
export const DEFAULT_MAX_PARAMETER_BYTES = 8 * 2 ** 30;

export interface NumRange {
  /** The value must be > 0. */
  positive?: boolean;
  /** The value must be >= min. */
  min?: number;
}

const fmtBytes = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

export class HFConfig {
  /** Size fields read so far (named in a parameter-budget error). */
  private readonly sizes = new Map<string, number>();

  constructor(
    readonly raw: RawConfig,
    readonly modelType: string,
  ) {}

  private where(key: string): string {
    return `config.json (${this.modelType}) field '${key}'`;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** The first of `keys` that is present (configs rename fields across versions). */
  private pick(keys: string | string[]): [string, unknown] {
    const list = Array.isArray(keys) ? keys : [keys];
    for (const k of list) if (this.has(k)) return [k, this.raw[k]];
    return [list[0], undefined];
  }

  int(keys: string | string[], fallback?: number): number {
    const [k, v] = this.pick(keys);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      fail("loadModel", `${this.where(k)} is required`);
    }
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail("loadModel", `${this.where(k)} must be a non-negative integer, got ${JSON.stringify(v)}`);
    if (v > MAX_SIZE) fail("loadModel", `${this.where(k)} = ${v} is above the ${MAX_SIZE} limit`);
    return v;
  }

  /** A positive integer (at most MAX_SIZE). */
  size(keys: string | string[], fallback?: number): number {
    const v = this.int(keys, fallback);
    const k = Array.isArray(keys) ? (keys.find((key) => this.has(key)) ?? keys[0]) : keys;
    if (v < 1) fail("loadModel", `${this.where(k)} must be positive, got ${v}`);
    this.sizes.set(k, v);
    return v;
  }

  num(keys: string | string[], fallback?: number, range: NumRange = {}): number {
    const [k, v] = this.pick(keys);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      fail("loadModel", `${this.where(k)} is required`);
    }
    if (typeof v !== "number" || !Number.isFinite(v)) fail("loadModel", `${this.where(k)} must be a finite number, got ${JSON.stringify(v)}`);
    if (range.positive && !(v > 0)) fail("loadModel", `${this.where(k)} must be positive, got ${v}`);
    if (range.min !== undefined && !(v >= range.min)) fail("loadModel", `${this.where(k)} must be >= ${range.min}, got ${v}`);
    return v;
  }

  /** Fails unless `a` (field aKey) is a multiple of `b` (field bKey). */
  divisible(aKey: string, a: number, bKey: string, b: number): void {
    if (a % b !== 0) fail("loadModel", `config.json (${this.modelType}): ${aKey} ${a} must be a multiple of ${bKey} ${b}`);
  }

  /**
   * Checks the float32 bytes of the parameters this config describes (an estimate from the size
   * fields) against `limit` before anything is allocated.
   */
  checkBudget(parameters: number, limit = DEFAULT_MAX_PARAMETER_BYTES): void {
    if (!(Number.isFinite(limit) && limit > 0)) fail("loadModel", `maxParameterBytes must be a positive number, got ${limit}`);
    const bytes = parameters * 4;
    if (bytes <= limit) return;
    const fields = [...this.sizes].map(([k, v]) => `${k} ${v}`).join(", ");
    fail(
      "loadModel",
      `config.json (${this.modelType}) describes about ${fmtBytes(bytes)} of float32 parameters (${fields}), above the ${fmtBytes(limit)} limit; pass { maxParameterBytes } to allow it`,
    );
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") fail("loadModel", `${this.where(key)} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "string") fail("loadModel", `${this.where(key)} must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Fails when `key` is present and `ok(value)` is false: a feature this library lacks. */
  reject(key: string, ok: (v: unknown) => boolean, why: string): void {
    if (this.raw[key] !== undefined && !ok(this.raw[key])) fail("loadModel", `${this.where(key)} = ${JSON.stringify(this.raw[key])} is not supported: ${why}`);
  }
}

/** Hugging Face writes float('inf') as {"__float__": "Infinity"} in some configs. */
export function jsonNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (v && typeof v === "object" && "__float__" in v) return Number((v as { __float__: string }).__float__);
  return Number.NaN;
}

/**
 * Builds `count` parts then the whole from them; when anything throws (a bad size, a custom
 * mixer factory), every part built so far is disposed: a failed build leaves no tensors behind.
 */
export function buildParts<P extends { dispose(): void }, W>(count: number, part: (i: number) => P, whole: (parts: P[]) => W): W {
  const parts: P[] = [];
  try {
    for (let i = 0; i < count; i++) parts.push(part(i));
    return whole(parts);
  } catch (e) {
    for (const p of parts) p.dispose();
    throw e;
  }
}

/**
 * Typed reads of a Hugging Face config.json, with errors that name the field, the model type
 * and what was expected. `reject` turns a field this library does not implement into an error
 * instead of a silently different model.
 */
import { fail } from "../errors";

export type RawConfig = Record<string, unknown>;

export class HFConfig {
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
    return v;
  }

  /** A positive integer. */
  size(keys: string | string[], fallback?: number): number {
    const v = this.int(keys, fallback);
    if (v < 1) fail("loadModel", `${this.where(Array.isArray(keys) ? keys[0] : keys)} must be positive, got ${v}`);
    return v;
  }

  num(keys: string | string[], fallback?: number): number {
    const [k, v] = this.pick(keys);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      fail("loadModel", `${this.where(k)} is required`);
    }
    if (typeof v !== "number" || !Number.isFinite(v)) fail("loadModel", `${this.where(k)} must be a finite number, got ${JSON.stringify(v)}`);
    return v;
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

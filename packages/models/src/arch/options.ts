/**
 * Checks of an architecture constructor's required options by name, for plain-JS callers (who get
 * no type check): a missing or misspelled option fails here naming it, instead of building a
 * degenerate model (an absent `blocks` list is an empty encoder).
 */
import { fail } from "../errors";

export interface RequiredOptions {
  /** Options that must be integers >= 1. */
  sizes?: readonly string[];
  /** Options that must be arrays (of blocks), with what to build them with. */
  lists?: readonly string[];
  /** Options that must be numbers > 0. */
  positive?: readonly string[];
  /** Options that must be present (objects, modules). */
  present?: readonly string[];
}

export function checkRequired(op: string, o: unknown, req: RequiredOptions): void {
  const names = [...(req.sizes ?? []), ...(req.lists ?? []), ...(req.positive ?? []), ...(req.present ?? [])];
  if (!o || typeof o !== "object") fail(op, `options { ${names.join(", ")} } are required`);
  const r = o as Record<string, unknown>;
  for (const k of req.sizes ?? []) if (!Number.isInteger(r[k]) || (r[k] as number) < 1) fail(op, `${k} must be a positive integer, got ${String(r[k])}`);
  for (const k of req.lists ?? []) if (!Array.isArray(r[k])) fail(op, `${k} must be an array of blocks, got ${String(r[k])}`);
  for (const k of req.positive ?? []) if (typeof r[k] !== "number" || !((r[k] as number) > 0)) fail(op, `${k} must be a positive number, got ${String(r[k])}`);
  for (const k of req.present ?? []) if (r[k] === undefined || r[k] === null) fail(op, `${k} is required`);
}

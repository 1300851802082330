/**
 * A strict argv parser for the tessera CLI: one positional (the model folder) and --flag value
 * pairs. Numbers are decimal literals only ("0x10", "1e", "", " 5" and NaN are usage errors), ids
 * are comma-separated decimal integers with no empty entries; every error names the option.
 */
import { fail } from "../errors";

export interface Args {
  positional: string[];
  flags: Map<string, string>;
}

/** Parses `argv`: options must be in `known`, given once, with a value; at most `maxPositional` positionals. */
export function parseArgs(argv: readonly string[], known: readonly string[], maxPositional = 1): Args {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!known.includes(name)) fail("tessera", `unknown option --${name} (options: ${known.map((k) => `--${k}`).join(", ") || "none"})`);
    if (flags.has(name)) fail("tessera", `option --${name} is given twice`);
    const value = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (value === undefined || (eq < 0 && value.startsWith("--"))) fail("tessera", `option --${name} needs a value`);
    flags.set(name, value);
  }
  if (positional.length > maxPositional) fail("tessera", `unexpected argument '${positional[maxPositional]}' (one model folder is expected; options start with --)`);
  return { positional, flags };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^\d+$/;

export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  /** Smallest allowed value (inclusive unless `above`). */
  min?: number;
  /** Values must be strictly greater than `min`. */
  above?: boolean;
  max?: number;
}

/** The value of --name as a number obeying `rule`, or undefined when the option is absent. */
export function numberFlag(args: Args, name: string, rule: NumberRule = {}): number | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  const want = `${rule.integer ? "an integer" : "a number"}${rangeText(rule)}`;
  if (!(rule.integer ? INTEGER.test(v) : DECIMAL.test(v))) fail("tessera", `--${name} must be ${want}, got '${v}'`);
  const n = Number(v);
  const low = rule.min === undefined ? true : rule.above ? n > rule.min : n >= rule.min;
  if (!Number.isFinite(n) || !low || (rule.max !== undefined && n > rule.max) || (rule.integer && !Number.isSafeInteger(n)))
    fail("tessera", `--${name} must be ${want}, got '${v}'`);
  return n;
}

function rangeText(r: NumberRule): string {
  if (r.min === undefined && r.max === undefined) return "";
  if (r.max === undefined) return r.above ? ` > ${r.min}` : ` >= ${r.min}`;
  return ` in ${r.above ? "(" : "["}${r.min ?? "-inf"}, ${r.max}]`;
}

/** --name as comma-separated non-negative decimal integers ("1,2,3"); required. */
export function idsFlag(args: Args, name: string): number[] {
  const v = args.flags.get(name);
  if (!v) fail("tessera", `--${name} is required (comma-separated token ids, e.g. --${name} 1,2,3)`);
  const parts = v.split(",");
  const bad = parts.findIndex((s) => !INTEGER.test(s.trim()) || !Number.isSafeInteger(Number(s)));
  if (bad >= 0) fail("tessera", `--${name} must be comma-separated non-negative integers, got '${v}' (entry ${bad + 1} is '${parts[bad]}')`);
  return parts.map(Number);
}

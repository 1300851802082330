/** A small argv parser for the tessera CLI: positionals and --flag value pairs. */
import { fail } from "../errors";

export interface Args {
  positional: string[];
  flags: Map<string, string>;
}

export function parseArgs(argv: readonly string[], known: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split("=", 2);
    if (!known.includes(name)) fail("tessera", `unknown option --${name} (options: ${known.map((k) => `--${k}`).join(", ") || "none"})`);
    const value = inline ?? argv[++i];
    if (value === undefined) fail("tessera", `option --${name} needs a value`);
    flags.set(name, value);
  }
  return { positional, flags };
}

export function numberFlag(args: Args, name: string): number | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) fail("tessera", `--${name} must be a number, got '${v}'`);
  return n;
}

export function idsFlag(args: Args, name: string): number[] {
  const v = args.flags.get(name);
  if (!v) fail("tessera", `--${name} is required (comma-separated token ids, e.g. --${name} 1,2,3)`);
  const ids = v.split(",").map((s) => Number(s.trim()));
  if (ids.some((n) => !Number.isInteger(n) || n < 0)) fail("tessera", `--${name} must be comma-separated non-negative integers, got '${v}'`);
  return ids;
}

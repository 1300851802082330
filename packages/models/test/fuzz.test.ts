/**
 * Property-based tests (fast-check, fixed seeds, bounded runs) of what the models package reads
 * from outside: config.json fields with random wrong types and sizes (a model or a TesseraError,
 * memory flat either way, never a hang), and the CLI's number and id parsing against an
 * independent oracle.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { modelFromConfig, type RawConfig } from "../src/index";
import { idsFlag, numberFlag, parseArgs } from "../src/cli/args";
import { CONFIGS } from "./configs";

const SEED = 20261204;

const wrongValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.string({ maxLength: 5 }),
  fc.integer({ min: -3, max: 3 }),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(0, -1, 1e9, 1e12, 2 ** 31, 2.5, Number.MAX_SAFE_INTEGER),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
  fc.constant({ __float__: "Infinity" }),
);

describe("config.json fuzzing", () => {
  it("every architecture, random field values: a small model or a TesseraError; no tensor left behind", () => {
    const archs = Object.keys(CONFIGS);
    const outcome = { built: 0, refused: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...archs), fc.array(fc.tuple(fc.nat(), wrongValue), { minLength: 1, maxLength: 3 }), (arch, edits) => {
        const base = CONFIGS[arch];
        const keys = Object.keys(base).filter((k) => k !== "model_type");
        const cfg: RawConfig = { ...base };
        for (const [i, v] of edits) cfg[keys[i % keys.length]] = v;
        const before = T.memory().numTensors;
        const t0 = Date.now();
        try {
          // A low budget keeps every accepted config small enough to build here in milliseconds.
          modelFromConfig(cfg, { seed: 1, maxParameterBytes: 8 * 2 ** 20 }).model.dispose();
          outcome.built++;
        } catch (e) {
          outcome.refused++;
          if ((e as Error).name !== "TesseraError") throw new Error(`${arch} ${JSON.stringify(cfg)}: not a TesseraError: ${(e as Error).stack}`);
        }
        expect(T.memory().numTensors, `${arch} ${JSON.stringify(cfg)}`).toBe(before);
        expect(Date.now() - t0).toBeLessThan(5000);
      }),
      { seed: SEED, numRuns: 250 },
    );
    // Both sides of the property were exercised.
    expect(outcome.built).toBeGreaterThan(10);
    expect(outcome.refused).toBeGreaterThan(100);
  });
});

describe("CLI argument fuzzing", () => {
  const DIGITS = /^\s*\d+\s*$/;
  const token = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.stringMatching(/^[0-9,x. e+-]{0,8}$/),
    fc.constantFrom("1,2", "1,,2", "0x10", "5,", " 7", "1e3", "NaN", "Infinity", "-0", "+1", ".5", "5.", ""),
  );

  it("--ids: accepted exactly when every comma-separated entry is a decimal integer; values as written", () => {
    fc.assert(
      fc.property(token, (v) => {
        const args = { positional: [], flags: new Map([["ids", v]]) };
        const oracle = v !== "" && v.split(",").every((p) => DIGITS.test(p) && Number.isSafeInteger(Number(p)));
        let got: number[] | null = null;
        try {
          got = idsFlag(args, "ids");
        } catch (e) {
          expect((e as Error).message).toMatch(/^tessera: --ids (is required|must be comma-separated non-negative integers)/);
        }
        expect(got !== null, JSON.stringify(v)).toBe(oracle);
        if (got) expect(got).toEqual(v.split(",").map((p) => Number(p)));
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it("numbers: accepted exactly when a decimal literal obeying the rule", () => {
    const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
    fc.assert(
      fc.property(token, fc.boolean(), fc.option(fc.integer({ min: -2, max: 2 })), (v, integer, min) => {
        const args = { positional: [], flags: new Map([["x", v]]) };
        const n = Number(v);
        const oracle = (integer ? /^\d+$/.test(v) && Number.isSafeInteger(n) : DECIMAL.test(v) && Number.isFinite(n)) && (min === null || n >= min);
        let got: number | undefined;
        let ok = true;
        try {
          got = numberFlag(args, "x", { integer, min: min ?? undefined });
        } catch (e) {
          ok = false;
          expect((e as Error).message).toMatch(/^tessera: --x must be /);
        }
        expect(ok, JSON.stringify(v)).toBe(oracle);
        if (ok) expect(got).toBe(n);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it("argv: unknown, repeated or value-less options and extra positionals are usage errors, never crashes", () => {
    const arg = fc.oneof(token, fc.constantFrom("--ids", "--seed", "--backend", "--nope", "--ids=1", "--seed=", "dir", "extra"));
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 6 }), (argv) => {
        try {
          const a = parseArgs(argv, ["ids", "seed", "backend"]);
          expect(a.positional.length).toBeLessThanOrEqual(1);
          for (const k of a.flags.keys()) expect(["ids", "seed", "backend"]).toContain(k);
        } catch (e) {
          expect((e as Error).name).toBe("TesseraError");
          expect((e as Error).message).toMatch(/^tessera: (unknown option|option --\w+ (is given twice|needs a value)|unexpected argument)/);
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});

/**
 * Property-based tests of the safetensors reader and writer (fast-check, fixed seeds, bounded
 * runs): any tensors round-trip bit for bit; any corruption of a valid file (truncation, flipped
 * bytes, a rewritten header length, header fields of wrong types or sizes) is either still a
 * valid file or refused with a TesseraError — never another exception, a hang or a leak.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as T from "../src/index";

const SEED = 20261204;
const DTYPES = ["float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool"] as const;

/** Random named tensors: small shapes (zeros included), every dtype, names incl. prototype keys. */
const namedTensors = fc
  .dictionary(
    fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "toString", "__metadata_x", "a.b/c")),
    fc.record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), seed: fc.nat() }),
    { maxKeys: 5 },
  )
  .filter((d) => !("__metadata__" in d));

function make(spec: { dtype: (typeof DTYPES)[number]; shape: number[]; seed: number }): T.Tensor {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => ((spec.seed * 31 + i * 17) % 23) - 11);
  const vals = spec.dtype === "bool" ? v.map((x) => x > 0) : spec.dtype === "uint8" ? v.map((x) => x + 11) : v;
  return T.tensor(vals.length ? (vals as number[]) : [], { dtype: spec.dtype, shape: spec.shape });
}

function validFile(): Uint8Array {
  const t = {
    w: T.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]),
    b: T.tensor([7, 8], { dtype: "int32" }),
    h: T.tensor([0.5, -2], { dtype: "float16" }),
  };
  const bytes = T.writeSafetensors(t, { format: "pt" });
  T.dispose(Object.values(t));
  return bytes;
}

/** Reads `bytes`; returns "ok" or "refused" and checks that nothing else is thrown and nothing leaks. */
function readOrRefuse(bytes: Uint8Array): "ok" | "refused" {
  const before = T.memory().numTensors;
  try {
    const r = T.readSafetensors(bytes);
    T.dispose(Object.values(r.tensors));
    return "ok";
  } catch (e) {
    if ((e as Error).name !== "TesseraError") throw new Error(`not a TesseraError: ${(e as Error).name}: ${(e as Error).message}`);
    return "refused";
  } finally {
    expect(T.memory().numTensors).toBe(before);
  }
}

describe("safetensors properties", () => {
  it("any named tensors round-trip: names, dtypes, shapes and bytes", () => {
    fc.assert(
      fc.property(namedTensors, (specs) => {
        const tensors: Record<string, T.Tensor> = Object.create(null);
        for (const [k, s] of Object.entries(specs)) tensors[k] = make(s);
        const back = T.readSafetensors(T.writeSafetensors(tensors)).tensors;
        expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
        for (const k of Object.keys(tensors)) {
          expect(back[k].dtype).toBe(tensors[k].dtype);
          expect(back[k].shape).toEqual(tensors[k].shape);
          expect(Array.from(back[k].rawDataSync())).toEqual(Array.from(tensors[k].rawDataSync()));
        }
        T.dispose([...Object.values(tensors), ...Object.values(back)]);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it("truncations and flipped bytes: a valid file or a TesseraError", () => {
    const good = validFile();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }), (cut, flips) => {
        readOrRefuse(good.subarray(0, cut));
        const b = good.slice();
        for (const f of flips) b[f.at % b.length] ^= f.xor;
        readOrRefuse(b);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("rewritten header lengths (huge, negative as u64, off by a little) are refused", () => {
    const good = validFile();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          fc.integer({ min: -8, max: 8 }).map((d) => BigInt(Math.max(0, Number(new DataView(good.buffer).getBigUint64(0, true)) + d))),
        ),
        (n) => {
          const b = good.slice();
          new DataView(b.buffer).setBigUint64(0, n, true);
          const r = readOrRefuse(b);
          if (n !== new DataView(good.buffer).getBigUint64(0, true)) expect(r).toBe("refused");
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("header fields of the wrong type or size: refused, with nothing allocated for them", () => {
    const weird = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.string({ maxLength: 4 }),
      fc.double(),
      fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
      fc.array(fc.oneof(fc.integer({ min: -5, max: 2 ** 45 }), fc.double(), fc.constant("x")), { maxLength: 4 }),
      fc.object({ maxDepth: 1 }),
    );
    fc.assert(
      fc.property(fc.constantFrom("dtype", "shape", "data_offsets"), weird, fc.constantFrom("w", "b", "h"), (field, value, entry) => {
        const good = validFile();
        const n = Number(new DataView(good.buffer).getBigUint64(0, true));
        const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
        header[entry][field] = value;
        const hb = new TextEncoder().encode(JSON.stringify(header));
        const data = good.subarray(8 + n);
        const b = new Uint8Array(8 + hb.length + data.length);
        new DataView(b.buffer).setBigUint64(0, BigInt(hb.length), true);
        b.set(hb, 8);
        b.set(data, 8 + hb.length);
        readOrRefuse(b);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

/**
 * The task generators (src/tasks), each checked against its definition by an independent
 * re-computation here: ListOps values by a recursive parser of the text, Pathfinder labels by a
 * flood fill over the pixels, MQAR / induction / selective-copying labels from the sequence, and
 * the vendored Fashion-MNIST subset against its manifest and the official label files.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  IGNORE_INDEX,
  LISTOPS_VOCAB,
  LISTOPS_VOCAB_SIZE,
  PATHFINDER_LINK,
  PATHFINDER_MARKER,
  PATHFINDER_PATH,
  PATHFINDER_X,
  inductionHeads,
  listops,
  listopsTokenize,
  mqar,
  pathfinder,
  selectiveCopying,
  selectiveCopyingBatch,
  seededRandom,
  splitSeed,
  taskSplits,
  type PathfinderExample,
  type SequenceExample,
} from "../src/tasks/index";
import { fashionMnist, fashionMnistDir } from "../src/tasks/node";
import { parseIdx, selectBalanced, SPLITS } from "../scripts/vendor-fashion-mnist.mjs";

const sha256 = (b: ArrayBufferView | string) =>
  createHash("sha256")
    .update(typeof b === "string" ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
    .digest("hex");
const same = (a: SequenceExample[], b: SequenceExample[]) =>
  a.length === b.length && a.every((x, i) => sha256(x.inputs) === sha256(b[i].inputs) && sha256(x.labels) === sha256(b[i].labels));

// ---------------------------------------------------------------- ListOps
interface Parsed {
  value: number;
  depth: number; // tree depth, a value counting 1 (listops.py: root at depth 1, values up to max_depth)
  maxArgs: number;
  minArgs: number;
}

/** A recursive-descent parser and evaluator of the space-separated ListOps text (LRA semantics). */
function parseListOps(text: string): Parsed {
  const tok = text.split(" ");
  let i = 0;
  const node = (): Parsed => {
    const t = tok[i++];
    if (/^[0-9]$/.test(t)) return { value: Number(t), depth: 1, maxArgs: 0, minArgs: Infinity };
    if (!["[MIN", "[MAX", "[MED", "[SM"].includes(t)) throw new Error(`unexpected token ${t} at ${i - 1}`);
    const args: Parsed[] = [];
    while (tok[i] !== "]") {
      if (i >= tok.length) throw new Error("unclosed operator");
      args.push(node());
    }
    i++; // "]"
    const v = args.map((a) => a.value);
    const sorted = [...v].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const value =
      t === "[MIN"
        ? Math.min(...v)
        : t === "[MAX"
          ? Math.max(...v)
          : t === "[SM"
            ? v.reduce((a, b) => a + b, 0) % 10
            : sorted.length % 2 === 1
              ? sorted[Math.floor(mid)]
              : Math.floor((sorted[mid - 1] + sorted[mid]) / 2); // int(np.median) of non-negative ints
    return {
      value,
      depth: 1 + Math.max(...args.map((a) => a.depth)),
      maxArgs: Math.max(args.length, ...args.map((a) => a.maxArgs)),
      minArgs: Math.min(args.length, ...args.map((a) => a.minArgs)),
    };
  };
  const root = node();
  if (i !== tok.length) throw new Error(`trailing tokens after ${i}`);
  return root;
}

describe("listops", () => {
  const data = listops({ count: 300, seed: 0 });

  it("the parser agrees with numpy's median and LRA's examples", () => {
    expect(parseListOps("[MAX 4 3 [MIN 2 3 ] 1 0 ]").value).toBe(4);
    expect(parseListOps("[MED 1 2 ]").value).toBe(1); // median 1.5 -> int 1
    expect(parseListOps("[MED 3 8 1 9 ]").value).toBe(5); // (3 + 8) / 2 = 5.5 -> 5
    expect(parseListOps("[MED 7 0 5 ]").value).toBe(5);
    expect(parseListOps("[SM 9 8 7 ]").value).toBe(4);
  });

  it("labels are the values of the expressions; lengths, depth and arity within LRA's bounds", () => {
    for (const ex of data) {
      const n = ex.text.split(" ").length;
      expect(n).toBeGreaterThan(500);
      expect(n).toBeLessThan(2000);
      const p = parseListOps(ex.text);
      expect(ex.label).toBe(p.value);
      expect(p.depth).toBeLessThanOrEqual(10);
      expect(p.depth).toBeGreaterThan(1);
      expect(p.maxArgs).toBeLessThanOrEqual(10);
      expect(p.minArgs).toBeGreaterThanOrEqual(2);
    }
    expect(new Set(data.map((d) => d.text)).size).toBe(data.length); // distinct, as listops.py's set
  });

  it("the label distribution is not degenerate", () => {
    const hist = new Array(10).fill(0);
    for (const d of data) hist[d.label]++;
    expect(hist.every((h) => h > 0)).toBe(true);
    expect(Math.max(...hist) / data.length).toBeLessThan(0.3);
  });

  it("honours other length bounds, deterministically", () => {
    const small = listops({ count: 40, minLength: 10, maxLength: 30, seed: 5 });
    for (const ex of small) {
      const n = ex.text.split(" ").length;
      expect(n > 10 && n < 30).toBe(true);
      expect(ex.label).toBe(parseListOps(ex.text).value);
    }
    expect(listops({ count: 40, minLength: 10, maxLength: 30, seed: 5 })).toEqual(small);
    expect(listops({ count: 40, minLength: 10, maxLength: 30, seed: 6 })).not.toEqual(small);
  });

  it("tokenizes to the documented vocabulary with 0 as padding", () => {
    expect(LISTOPS_VOCAB_SIZE).toBe(16);
    const ids = listopsTokenize("[MAX 4 3 [MIN 2 3 ] 1 0 ]", 12);
    expect(Array.from(ids)).toEqual([12, 5, 4, 11, 3, 4, 15, 2, 1, 15, 0, 0]);
    for (const ex of data.slice(0, 20)) {
      const t = listopsTokenize(ex.text, 2000);
      const n = ex.text.split(" ").length;
      expect(Array.from(t.subarray(0, n), (id) => LISTOPS_VOCAB[id]).join(" ")).toBe(ex.text);
      expect(t.subarray(n).every((id) => id === 0)).toBe(true);
      expect(Math.max(...t)).toBeLessThan(LISTOPS_VOCAB_SIZE);
    }
    expect(() => listopsTokenize("[MAX 4 ( ]")).toThrow(/unknown token/);
    expect(() => listopsTokenize("[MAX 4 3 ]", 3)).toThrow(/do not fit/);
  });
});

// ---------------------------------------------------------------- Pathfinder
/** Components of non-zero pixels, pixels within Chebyshev distance `link` being neighbours. */
function components(pixels: Uint8Array, size: number, link: number): Int32Array {
  const comp = new Int32Array(size * size).fill(-1);
  let next = 0;
  for (let s = 0; s < pixels.length; s++) {
    if (pixels[s] === 0 || comp[s] >= 0) continue;
    const stack = [s];
    comp[s] = next;
    while (stack.length) {
      const p = stack.pop()!;
      const y = Math.floor(p / size);
      const x = p % size;
      for (let dy = -link; dy <= link; dy++)
        for (let dx = -link; dx <= link; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || xx < 0 || yy >= size || xx >= size) continue;
          const q = yy * size + xx;
          if (pixels[q] !== 0 && comp[q] < 0) {
            comp[q] = next;
            stack.push(q);
          }
        }
    }
    next++;
  }
  return comp;
}

function checkPathfinder(data: PathfinderExample[], size: number) {
  let ones = 0;
  let distracted = 0;
  for (const ex of data) {
    expect(ex.pixels).toBeInstanceOf(Uint8Array);
    expect(ex.pixels.length).toBe(size * size);
    expect(ex.pixels.every((v) => v === 0 || v === PATHFINDER_PATH || v === PATHFINDER_MARKER)).toBe(true);
    const [m0, m1] = ex.markers.map(([y, x]) => y * size + x);
    expect(ex.pixels[m0]).toBe(PATHFINDER_MARKER);
    expect(ex.pixels[m1]).toBe(PATHFINDER_MARKER);
    const comp = components(ex.pixels, size, PATHFINDER_LINK);
    expect(ex.label).toBe(comp[m0] === comp[m1] ? 1 : 0); // the definition
    ones += ex.label;
    const count = Math.max(...comp) + 1;
    if (count >= (ex.label ? 2 : 3)) distracted++; // at least one distractor besides the target path(s)
  }
  expect(ones / data.length).toBeGreaterThan(0.35);
  expect(ones / data.length).toBeLessThan(0.65);
  expect(distracted / data.length).toBeGreaterThan(0.9);
}

describe("pathfinder", () => {
  it("32 x 32: label 1 iff the markers are connected by path pixels; distractors present; balanced", () => {
    checkPathfinder(pathfinder({ count: 300, seed: 0 }), 32);
  });

  it("the Path-X setting (128 x 128) follows the same rules", () => {
    checkPathfinder(pathfinder({ ...PATHFINDER_X, count: 40, seed: 3 }), 128);
  });

  it("is deterministic in the seed", () => {
    const a = pathfinder({ count: 20, seed: 7 });
    expect(pathfinder({ count: 20, seed: 7 })).toEqual(a);
    expect(pathfinder({ count: 20, seed: 8 }).map((e) => sha256(e.pixels))).not.toEqual(a.map((e) => sha256(e.pixels)));
  });
});

// ---------------------------------------------------------------- MQAR
describe("mqar", () => {
  it("labels are the values of the queried keys, at the query positions only (zoology's multiquery_ar)", () => {
    const V = 8192;
    const pairs = 4;
    const data = mqar({ count: 300, seed: 0 });
    for (const { inputs, labels } of data) {
      expect(inputs.length).toBe(64);
      const kv = new Map<number, number>();
      for (let i = 0; i < pairs; i++) {
        expect(inputs[2 * i]).toBeGreaterThanOrEqual(1);
        expect(inputs[2 * i]).toBeLessThan(V / 2);
        expect(inputs[2 * i + 1]).toBeGreaterThanOrEqual(V / 2);
        expect(inputs[2 * i + 1]).toBeLessThan(V);
        kv.set(inputs[2 * i], inputs[2 * i + 1]);
      }
      expect(kv.size).toBe(pairs);
      expect(new Set(kv.values()).size).toBe(pairs);
      const queried: number[] = [];
      labels.forEach((l, i) => {
        if (l === IGNORE_INDEX) return;
        expect(i).toBeGreaterThanOrEqual(2 * pairs);
        expect((i - 2 * pairs) % 2).toBe(0);
        expect(kv.get(inputs[i])).toBe(l);
        queried.push(inputs[i]);
      });
      expect(queried.sort()).toEqual([...kv.keys()].sort()); // every key queried once
      expect(inputs.every((v) => v >= 0 && v < V)).toBe(true);
    }
  });

  it("without random fillers, the labels are recomputable from the sequence alone", () => {
    const pairs = 8;
    for (const { inputs, labels } of mqar({ count: 100, seed: 1, seqLen: 128, vocabSize: 512, numKvPairs: pairs, randomNonQueries: false })) {
      const kv = new Map<number, number>();
      for (let i = 0; i < pairs; i++) kv.set(inputs[2 * i], inputs[2 * i + 1]);
      const expected = Array.from(inputs, (t, i) => (i >= 2 * pairs && t !== 0 ? kv.get(t)! : IGNORE_INDEX));
      expect(Array.from(labels)).toEqual(expected);
    }
  });

  it("query gaps follow the power law (short gaps favoured at powerA = 0.01, uniform at 1)", () => {
    const meanGap = (powerA: number) => {
      let s = 0;
      let n = 0;
      for (const { labels } of mqar({ count: 400, seed: 2, powerA, randomNonQueries: false }))
        labels.forEach((l, i) => {
          if (l !== IGNORE_INDEX) {
            s += (i - 8) / 2;
            n++;
          }
        });
      return s / n;
    };
    const skewed = meanGap(0.01);
    const uniform = meanGap(1);
    expect(uniform).toBeGreaterThan(12); // (28 - 1) / 2 = 13.5 for uniform gaps in [0, 28)
    expect(skewed).toBeLessThan(0.75 * uniform);
  });

  it("keeps zoology's constraints and is deterministic", () => {
    expect(() => mqar({ count: 1, seed: 0, seqLen: 63 })).toThrow(/even/);
    expect(() => mqar({ count: 1, seed: 0, seqLen: 64, numKvPairs: 17 })).toThrow(/numKvPairs/);
    expect(() => mqar({ count: 1, seed: 0, seqLen: 64, vocabSize: 64 })).toThrow(/exceed/);
    expect(same(mqar({ count: 20, seed: 4 }), mqar({ count: 20, seed: 4 }))).toBe(true);
    expect(same(mqar({ count: 20, seed: 4 }), mqar({ count: 20, seed: 5 }))).toBe(false);
  });
});

// ---------------------------------------------------------------- induction heads
describe("inductionHeads", () => {
  it("the last label is the token that followed the first trigger", () => {
    const V = 16;
    const L = 64;
    const trigger = V - 1;
    const seen = new Set<number>();
    for (const { inputs, labels } of inductionHeads({ count: 300, seed: 0, seqLen: L, vocabSize: V })) {
      expect(inputs.length).toBe(L + 1);
      const triggers = Array.from(inputs).flatMap((t, i) => (t === trigger ? [i] : []));
      expect(triggers.length).toBe(2);
      expect(triggers[1]).toBe(L);
      expect(triggers[0]).toBeLessThan(L - 2);
      const expected = inputs[triggers[0] + 1];
      expect(Array.from(labels)).toEqual(Array.from(inputs, (_, i) => (i === L ? expected : IGNORE_INDEX)));
      expect(inputs.every((t) => t >= 0 && t < V)).toBe(true);
      seen.add(expected);
    }
    expect(seen.size).toBe(V - 1); // every ordinary token occurs as a target
  });

  it("is deterministic in the seed", () => {
    expect(same(inductionHeads({ count: 30, seed: 1 }), inductionHeads({ count: 30, seed: 1 }))).toBe(true);
    expect(same(inductionHeads({ count: 30, seed: 1 }), inductionHeads({ count: 30, seed: 2 }))).toBe(false);
  });
});

// ---------------------------------------------------------------- selective copying
describe("selectiveCopying", () => {
  it("is the trainer's generator, unchanged (hash of its output before it moved)", () => {
    const { ids, targets } = selectiveCopyingBatch({ length: 64, tokens: 8, vocab: 8 }, 5, seededRandom(7));
    expect(sha256(JSON.stringify([Array.from(ids), Array.from(targets)]))).toBe("d4859ab52f1281be13acca2503b7e7be391b4bb0ee75c19e960291c75e5a1561");
  });

  it("labels at the markers are the data tokens in order", () => {
    const task = { length: 64, tokens: 8, vocab: 8 };
    for (const { inputs, labels } of selectiveCopying({ count: 200, seed: 0, ...task })) {
      expect(inputs.length).toBe(72);
      const data = Array.from(inputs.subarray(0, 64)).filter((t) => t !== 0);
      expect(data.length).toBe(8);
      for (const t of data) expect(t >= 1 && t <= 8).toBe(true);
      expect(Array.from(inputs.subarray(64))).toEqual(new Array(8).fill(9));
      expect(Array.from(labels)).toEqual([...new Array(64).fill(IGNORE_INDEX), ...data]);
    }
    expect(same(selectiveCopying({ count: 10, seed: 1 }), selectiveCopying({ count: 10, seed: 1 }))).toBe(true);
    expect(same(selectiveCopying({ count: 10, seed: 1 }), selectiveCopying({ count: 10, seed: 2 }))).toBe(false);
  });
});

// ---------------------------------------------------------------- splits
describe("taskSplits", () => {
  it("gives each split its own fixed seed, independent of the other splits' sizes", () => {
    const gen = (count: number, seed: number) => listops({ count, seed, minLength: 10, maxLength: 60 });
    const a = taskSplits(gen, { train: 30, validation: 5, test: 5 });
    const b = taskSplits(gen, { train: 10, validation: 5, test: 5 });
    expect(b.test).toEqual(a.test);
    expect(b.train).toEqual(a.train.slice(0, 10));
    expect(a.test).toEqual(gen(5, splitSeed(0, "test")));
    expect(new Set([splitSeed(0, "train"), splitSeed(0, "validation"), splitSeed(0, "test"), splitSeed(1, "train")]).size).toBe(4);
    const texts = new Set(a.train.map((e) => e.text));
    expect(a.test.some((e) => texts.has(e.text))).toBe(false);
  });
});

// ---------------------------------------------------------------- Fashion-MNIST
describe("fashionMnist (vendored subset)", () => {
  const dir = fashionMnistDir();
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  const debian = "/usr/share/datasets/fashion-mnist";

  for (const split of ["train", "test"] as const) {
    it(`${split}: counts, balance, ranges and the manifest's checksums`, () => {
      const data = fashionMnist({ split });
      const perClass = split === "train" ? 200 : 50;
      expect(data.length).toBe(10 * perClass);
      const hist = new Array(10).fill(0);
      let max = 0;
      for (const { pixels, label } of data) {
        expect(pixels).toBeInstanceOf(Uint8Array);
        expect(pixels.length).toBe(784);
        expect(Number.isInteger(label) && label >= 0 && label <= 9).toBe(true);
        hist[label]++;
        for (const v of pixels) if (v > max) max = v;
      }
      expect(hist).toEqual(new Array(10).fill(perClass));
      expect(max).toBe(255);
      expect(data.some((d) => d.pixels.some((v) => v > 0 && v < 255))).toBe(true); // grayscale, not binary
      const m = manifest.splits[split];
      const pixels = new Uint8Array(data.length * 784);
      data.forEach((d, i) => pixels.set(d.pixels, i * 784));
      expect(sha256(pixels)).toBe(m.pixelsSha256);
      expect(sha256(Uint8Array.from(data, (d) => d.label))).toBe(m.labelsSha256);
    });

    it(`${split}: the selection is the script's, recomputed from the official labels`, () => {
      const s = SPLITS[split];
      const m = manifest.splits[split];
      const gz = readFileSync(join(dir, "official", `${s.file}-labels-idx1-ubyte.gz`));
      expect(sha256(gz)).toBe(m.sourceLabels.sha256);
      const official = parseIdx(gunzipSync(gz));
      expect(official.count).toBe(split === "train" ? 60000 : 10000);
      const indices = selectBalanced(official.data, s.perClass, s.seed);
      expect(indices).toEqual(m.indices);
      expect(Array.from(fashionMnist({ split }), (d) => d.label)).toEqual(indices.map((k) => official.data[k]));
    });

    // Not a skipped test where the package is absent (CI counts skips as failures): there the
    // manifest's pixel checksum above is what ties the files to the script's output.
    it(`${split}: pixels equal the official images where Debian's dataset-fashion-mnist is installed`, () => {
      if (!existsSync(debian)) return;
      const s = SPLITS[split];
      const gz = readFileSync(join(debian, `${s.file}-images-idx3-ubyte.gz`));
      expect(sha256(gz)).toBe(manifest.splits[split].sourceImages.sha256);
      const images = parseIdx(gunzipSync(gz));
      const data = fashionMnist({ split });
      manifest.splits[split].indices.forEach((k: number, i: number) => {
        expect(sha256(data[i].pixels)).toBe(sha256(images.data.subarray(k * 784, (k + 1) * 784)));
      });
    });
  }

  it("the vendored files stay small", () => {
    const total = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((a, e) => a + readFileSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).length, 0);
    expect(total).toBeLessThan(2.5e6);
  });
});

// ---------------------------------------------------------------- the entry
describe("tasks entry", () => {
  it("the browser entry's modules import nothing from Node", () => {
    const srcDir = join(__dirname, "../src/tasks");
    for (const f of readdirSync(srcDir)) {
      if (f === "node.ts") continue;
      const text = readFileSync(join(srcDir, f), "utf8");
      const imports = [...text.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
      for (const i of imports) expect(i.startsWith("./"), `${f} imports ${i}`).toBe(true);
    }
  });
});

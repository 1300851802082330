/**
 * The accuracy experiments' machinery (issue 15 §4), never their real runs: the vendored
 * SpamAssassin subset against its manifest, the cleaner and tokenizer against hand-made cases,
 * the linear probe against its definition, the masking of a batch (whole words stay whole), the
 * FLOP count by hand, and each experiment end to end on its seconds-long `quick` configuration.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { cleanMessage, jsonl, SPLIT_COUNTS } from "../scripts/vendor-spam-assassin.mjs";
import { buildVocabulary, CLS_ID, encodeText, PAD_ID, preTokenize, SEP_ID, UNK_ID, wordPieces } from "../src/tasks/index";
import { spamAssassin, spamAssassinDir } from "../src/tasks/node";
import { linearProbe, standardizer } from "../src/accuracy/probe";
import { bertEncoder, encoderStates, forwardFlopsPerToken, mlmLogitsAt, pooledFeatures, selectedPositions, smallBert } from "../src/accuracy/text-encoder";
import { maskBatch, prepareText } from "../src/accuracy/text-pretrain";
import { ACCURACY_EXPERIMENTS, experimentByName } from "../src/accuracy/experiments/index";
import { TEXT_CONFIGS } from "../src/accuracy/experiments/mask-strategies";
import { generatorSize, stepFlops } from "../src/accuracy/experiments/electra-vs-mlm";
import { blockwiseNoise, MAE_CONFIGS } from "../src/accuracy/experiments/mae-probe";
import { parseAccuracyArgs, runAccuracy } from "../src/accuracy-cli";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const splits = () => ({ pretrain: spamAssassin({ split: "pretrain" }), train: spamAssassin({ split: "train" }), test: spamAssassin({ split: "test" }) });

describe("spamAssassin (vendored subset)", () => {
  const dir = spamAssassinDir();
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));

  it("each split: count, half spam, the manifest's ids and the SHA-256 of its JSONL", () => {
    for (const split of ["pretrain", "train", "test"] as const) {
      const rows = spamAssassin({ split });
      expect(rows.length).toBe(2 * SPLIT_COUNTS[split]);
      expect(rows.filter((r) => r.label === 1).length).toBe(SPLIT_COUNTS[split]);
      expect(rows.every((r) => (r.label === 1) === r.id.startsWith("spam-"))).toBe(true);
      expect(rows.map((r) => r.id)).toEqual(manifest.splits[split].ids);
      expect(sha256(jsonl(rows))).toBe(manifest.splits[split].jsonlSha256);
    }
  });

  it("the splits are disjoint and every text is non-trivial", () => {
    const all = Object.values(splits()).flat();
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(new Set(all.map((r) => r.text)).size).toBe(all.length);
    expect(all.every((r) => preTokenize(r.text).filter((w) => /[a-z0-9]/.test(w)).length >= 20 && r.text.length <= 1200)).toBe(true);
  });

  it("rejects an unknown split by name", () => {
    expect(() => spamAssassin({ split: "validation" as "train" })).toThrow(/spamAssassin: split must be one of pretrain, train, test, got "validation"/);
  });

  it("the vendored files stay small", () => {
    const total = readdirSync(dir).reduce((a, f) => a + readFileSync(join(dir, f)).length, 0);
    expect(total).toBeLessThan(1.5e6);
  });
});

describe("cleanMessage", () => {
  it("keeps the Subject and the body; decodes quoted-printable; drops headers, HTML, entities and base64 lines", () => {
    const raw = [
      "From someone@example.com  Thu Aug 22 2002",
      "Subject: Cheap\n\tstuff here",
      "Content-Type: text/html",
      "",
      "<html><body><p>Buy&nbsp;now=21 <b>50% off</b></p>",
      "<style>p { color: red }</style>",
      "soft=",
      "break",
      "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk=",
      "</body></html>",
    ].join("\n");
    expect(cleanMessage(raw)).toBe("Cheap stuff here\nBuy now! 50% off\nsoftbreak");
  });
});

describe("tokenizer", () => {
  it("pre-tokenizes into lowercase words and single punctuation", () => {
    expect(preTokenize("Hello, WORLD!! x2")).toEqual(["hello", ",", "world", "!", "!", "x2"]);
    expect(wordPieces("tessera")).toEqual(["te", "##ss", "##er", "##a"]);
  });

  it("builds the vocabulary by frequency (ties alphabetical) and encodes with word ids", () => {
    const v = buildVocabulary(["b a b c", "b a zzzz"], { words: 2, pieces: 2 });
    // words: b (3), a (2); the rest c (1), zzzz (1) -> pieces zz (1) and ##zz (1) before c (1)
    expect(v.tokens).toEqual(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "b", "a", "##zz", "c"]);
    const e = encodeText(v, "A b zzzz cc", 9, 1);
    // [CLS] a b | zzzz -> "zz" (not kept: [UNK]) "##zz" | cc -> "cc" ([UNK]) | [SEP] [PAD] [PAD]
    expect(Array.from(e.ids)).toEqual([CLS_ID, 6, 5, UNK_ID, 7, UNK_ID, SEP_ID, PAD_ID, PAD_ID]);
    expect(Array.from(e.wordIds)).toEqual([-1, 0, 1, 2, 2, 3, -1, -1, -1]);
    expect(e.length).toBe(7);
    expect(e.label).toBe(1);
    const cut = encodeText(v, "a b a b a", 4);
    expect(Array.from(cut.ids)).toEqual([CLS_ID, 6, 5, SEP_ID]);
  });
});

describe("linearProbe", () => {
  it("standardizes with the training mean and biased variance (BatchNorm without affine)", () => {
    const s = standardizer({ x: Float32Array.from([1, 10, 3, 10, 5, 10]), y: [0, 1, 0], dim: 2 });
    expect(Array.from(s.mean)).toEqual([3, 10]);
    expect(s.invStd[0]).toBeCloseTo(1 / Math.sqrt(8 / 3 + 1e-6), 12);
    expect(s.invStd[1]).toBeCloseTo(1 / Math.sqrt(1e-6), 6);
  });

  it("separates linearly separable classes and scores chance on label noise", () => {
    const rng = (() => {
      let a = 7;
      return () => (a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    })();
    const make = (n: number, noise: boolean) => {
      const x = new Float32Array(n * 3);
      const y: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = i % 3;
        for (let j = 0; j < 3; j++) x[i * 3 + j] = (j === c ? 4 : 0) + rng();
        y.push(noise ? Math.floor(rng() * 3) : c);
      }
      return { x, y, dim: 3 };
    };
    const clean = linearProbe(make(90, false), make(60, false), { classes: 3, steps: 200 });
    expect(clean.trainAccuracy).toBe(1);
    expect(clean.testAccuracy).toBe(1);
    const noisy = linearProbe(make(300, true), make(300, true), { classes: 3, steps: 200 });
    expect(Math.abs(noisy.testAccuracy - 1 / 3)).toBeLessThan(4 * Math.sqrt(2 / 9 / 300)); // chance within 4 standard errors
  });
});

describe("text encoder and masking", () => {
  const data = prepareText(splits(), TEXT_CONFIGS.quick);

  it("whole-word masking selects every piece of a selected word; specials and padding never", () => {
    const xs = data.pretrain.slice(0, 8);
    for (const strategy of ["token", "whole-word", "span"] as const) {
      const m = maskBatch(strategy, xs, data.size.vocab, 3);
      const labels = m.labels.dataSync() as Int32Array;
      const L = data.size.seqLen;
      let selected = 0;
      xs.forEach((x, b) => {
        const sel = (t: number) => labels[b * L + t] !== -100;
        for (let t = 0; t < L; t++) {
          if (!sel(t)) continue;
          selected++;
          expect([PAD_ID, CLS_ID, SEP_ID]).not.toContain(x.ids[t]);
          expect(labels[b * L + t]).toBe(x.ids[t]);
          // whole-word: every other piece of the word is selected with it
          if (strategy === "whole-word") for (let u = 0; u < L; u++) if (x.wordIds[u] === x.wordIds[t]) expect(sel(u)).toBe(true);
        }
      });
      expect(selected).toBeGreaterThan(0);
      T.dispose([m.inputIds, m.labels, m.attentionMask]);
    }
  });

  it("the MLM head on the selected positions equals BertForMaskedLM's logits there (1e-5)", () => {
    const model = smallBert(data.size, 1);
    model.eval();
    T.tidy(() => {
      const m = maskBatch("token", data.pretrain.slice(0, 4), data.size.vocab, 5);
      const sel = selectedPositions(m.labels);
      const V = data.size.vocab;
      const full = model.forward(m.inputIds, { attentionMask: m.attentionMask }).logits.dataSync() as Float32Array; // [B, T, V]
      const at = mlmLogitsAt(model, encoderStates(model, m.inputIds, m.attentionMask), sel.positions).dataSync() as Float32Array; // [K, V]
      expect(at.length).toBe(sel.positions.length * V);
      let diff = 0;
      sel.positions.forEach((p, k) => {
        for (let v = 0; v < V; v++) diff = Math.max(diff, Math.abs(at[k * V + v] - full[p * V + v]));
      });
      expect(diff).toBeLessThan(1e-5);
    });
    model.dispose();
  });

  it("pooled features: [N, D], the same for the same model, and no tensor left behind", () => {
    const model = smallBert(data.size, 0);
    model.eval();
    const before = T.memory().numTensors;
    const a = pooledFeatures(bertEncoder(model), data.test.slice(0, 6), 4);
    const b = pooledFeatures(bertEncoder(model), data.test.slice(0, 6), 3);
    expect(T.memory().numTensors).toBe(before);
    expect(a.x.length).toBe(6 * data.size.dModel);
    for (let i = 0; i < a.x.length; i++) expect(Math.abs(a.x[i] - b.x[i])).toBeLessThan(1e-5);
    model.dispose();
  });

  it("counts forward FLOPs per token by hand", () => {
    const s = { vocab: 100, seqLen: 10, dModel: 8, layers: 2, heads: 2, inner: 16 };
    // block: 4*64 + 2*8*16 + 2*10*8 = 256 + 256 + 160 = 672; x2 layers = 1344; MLM head 64 + 800 = 864; detection head 64 + 8 = 72
    expect(forwardFlopsPerToken(s, "mlm")).toBe(2 * (1344 + 864));
    expect(forwardFlopsPerToken(s, "detect")).toBe(2 * (1344 + 72));
    expect(generatorSize({ ...s, dModel: 32, heads: 4, inner: 64 })).toEqual({ ...s, dModel: 16, heads: 2, inner: 32 });
    expect(forwardFlopsPerToken(s, "mlm", 0.15)).toBeCloseTo(2 * (1344 + 0.15 * 864), 9);
    expect(stepFlops("mlm", s, 3)).toBeCloseTo(3 * 2 * (1344 + 0.15 * 864) * 3 * 10, 6);
    // ELECTRA at d = 16 (generator d = 8, E = 16): generator 2 * (2 * (4*64 + 2*8*16 + 2*10*8) + 16*8 + 0.15 * (8*16 + 16*100)) = 3462.4,
    // discriminator 2 * (2 * (4*256 + 2*16*32 + 2*10*16) + 16*16 + 16) = 10016; x 3 (forward + backward) x 3 x 10 tokens
    expect(stepFlops("electra", { ...s, dModel: 16, heads: 2, inner: 32 }, 3)).toBeCloseTo((3462.4 + 10016) * 3 * 30, 6);
  });
});

describe("accuracy experiments (quick configurations)", () => {
  it("mlm-masking: a row per condition, the strategies pre-trained, accuracies in [0, 1]", async () => {
    const r = await experimentByName("mlm-masking").run({ quick: true, log: () => {} });
    expect(r.rows.map((x) => x.condition)).toEqual(["none", "token", "whole-word", "span"]);
    for (const row of r.rows) {
      expect(row.accuracy).toBeGreaterThanOrEqual(0);
      expect(row.accuracy).toBeLessThanOrEqual(1);
      expect(row.testCount).toBe(TEXT_CONFIGS.quick.limit);
      expect(row.steps).toBe(row.condition === "none" ? 0 : TEXT_CONFIGS.quick.steps);
    }
    expect(r.table).toMatch(/\| whole-word \|/);
  });

  it("electra-vs-mlm: probes at 1/4, 1/2 and the whole budget, ELECTRA's steps from equal FLOPs", async () => {
    const r = await experimentByName("electra-vs-mlm").run({ quick: true, log: () => {} });
    const c = TEXT_CONFIGS.quick;
    const data = prepareText(splits(), c);
    const electraSteps = Math.round((c.steps * stepFlops("mlm", data.size, c.batch)) / stepFlops("electra", data.size, c.batch));
    expect(r.rows.map((x) => `${x.condition}@${x.budgetFraction}`)).toEqual(["MLM@0.25", "MLM@0.5", "MLM@1", "ELECTRA@0.25", "ELECTRA@0.5", "ELECTRA@1"]);
    expect(r.rows.filter((x) => x.condition === "ELECTRA").every((x) => x.steps === electraSteps)).toBe(true);
    expect(r.rows.find((x) => x.condition === "ELECTRA" && x.budgetFraction === 1)?.step).toBe(electraSteps);
    for (const row of r.rows) expect(Number.isFinite(row.lossLast as number)).toBe(true);
  });

  it("mae-probe: raw pixels, none, MAE random, MAE block-wise; the block-wise noise keeps unmasked patches first", async () => {
    const r = await experimentByName("mae-probe").run({ quick: true, log: () => {} });
    expect(r.rows.map((x) => x.condition)).toEqual(["raw pixels (reference)", "none (random init)", "MAE, random masking", "MAE, block-wise masking"]);
    for (const row of r.rows) {
      expect(row.accuracy).toBeGreaterThanOrEqual(0);
      expect(row.accuracy).toBeLessThanOrEqual(1);
      expect(row.testCount).toBe(MAE_CONFIGS.quick.limit);
    }
    expect(r.rows.slice(2).every((x) => x.steps === MAE_CONFIGS.quick.steps && Number.isFinite(x.lossLast as number))).toBe(true);
    T.tidy(() => {
      const c = { ...MAE_CONFIGS.default };
      const noise = blockwiseNoise(3, 7, c, 9).dataSync() as Float32Array; // [3, 49]
      for (let b = 0; b < 3; b++) {
        const row = Array.from(noise.subarray(b * 49, (b + 1) * 49));
        const masked = row.filter((v) => v >= 1).length;
        expect(masked).toBeGreaterThan(0);
        expect(masked).toBeLessThanOrEqual(49 - Math.floor(49 * 0.25));
        expect(row.every((v) => (v >= 1 ? v < 1.5 : v >= 0 && v < 0.5))).toBe(true);
      }
    });
  });

  it("the CLI: names are checked, a quick run writes its rows as JSON", async () => {
    expect(() => parseAccuracyArgs(["nope"])).toThrow(/unknown accuracy experiment 'nope' \(experiments: mlm-masking, electra-vs-mlm/);
    expect(() => parseAccuracyArgs([])).toThrow(/name at least one experiment/);
    expect(() => parseAccuracyArgs(["mlm-masking", "--seed", "x"])).toThrow(/--seed needs a non-negative integer, got x/);
    expect(parseAccuracyArgs(["mae-probe", "--seed", "3"])).toEqual({ names: ["mae-probe"], quick: false, seed: 3 });
    expect(ACCURACY_EXPERIMENTS.length).toBeGreaterThanOrEqual(2);
    const file = join(tmpdir(), `tessera-accuracy-${process.pid}.json`);
    const out: string[] = [];
    const rows = await runAccuracy(
      parseAccuracyArgs(["mlm-masking", "--quick", "--json", file]),
      (s) => out.push(s),
      () => {},
    );
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(JSON.parse(JSON.stringify(rows)));
    expect(out.join("\n")).toMatch(/load average \(1 \/ 5 \/ 15 min\) at start/);
    rmSync(file);
  });
});

import { describe, expect, it } from "vitest";
import { memory, tensor } from "@tessera/tensor";
import { bertMask, spanLengthDistribution, spanMask, t5NoiseMask, t5SpanCorruption } from "../src";
import { rows, withinBinomial } from "./helpers";

const CLS = 101,
  SEP = 102,
  PAD = 0,
  MASK = 103,
  V = 30522;

/** B rows of length T: [CLS] tokens [SEP] then padding (row b has b % 7 pads). */
function batch(B: number, T: number) {
  const ids: number[][] = [];
  const att: number[][] = [];
  for (let b = 0; b < B; b++) {
    const pads = b % 7;
    const real = T - pads;
    const row: number[] = [];
    for (let t = 0; t < T; t++) row.push(t === 0 ? CLS : t === real - 1 ? SEP : t >= real ? PAD : 1000 + ((b * 131 + t * 17) % 20000));
    ids.push(row);
    att.push(row.map((_, t) => (t < real ? 1 : 0)));
  }
  return { ids, att };
}

describe("bertMask (Hugging Face DataCollatorForLanguageModeling)", () => {
  const B = 64,
    T = 128;
  const { ids, att } = batch(B, T);
  const r = bertMask(ids, { maskTokenId: MASK, vocabSize: V, specialTokenIds: [CLS, SEP, PAD], attentionMask: att, seed: 7 });
  const inp = rows(r.inputIds);
  const lab = rows(r.labels);

  it("selects each eligible token with p = 0.15 (5-sigma binomial bound) and never specials or padding", () => {
    let eligible = 0,
      selected = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const special = [CLS, SEP, PAD].includes(ids[b][t]) || att[b][t] === 0;
        if (special) {
          expect(lab[b][t]).toBe(-100);
          expect(inp[b][t]).toBe(ids[b][t]);
        } else eligible++;
        if (lab[b][t] !== -100) {
          selected++;
          expect(lab[b][t]).toBe(ids[b][t]);
        } else expect(inp[b][t]).toBe(ids[b][t]);
      }
    }
    const check = withinBinomial(selected, eligible, 0.15);
    expect(check.ok, `${selected} selected of ${eligible}, expected ${check.expected} +- ${check.bound}`).toBe(true);
  });

  it("splits selected tokens 80 / 10 / 10 (mask / random / unchanged; 5-sigma bounds, random draws may hit the original or the mask id: 1/V each)", () => {
    let S = 0,
      masked = 0,
      random = 0,
      same = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        if (lab[b][t] === -100) continue;
        S++;
        if (inp[b][t] === MASK) masked++;
        else if (inp[b][t] === ids[b][t]) same++;
        else random++;
      }
    }
    expect(withinBinomial(masked, S, 0.8 + 0.1 / V).ok).toBe(true);
    expect(withinBinomial(random, S, 0.1 * (1 - 2 / V)).ok).toBe(true);
    expect(withinBinomial(same, S, 0.1 + 0.1 / V).ok).toBe(true);
    expect(masked + random + same).toBe(S);
  });

  it("random replacements are uniform over the vocabulary (mean within 5 sigma of (V - 1) / 2)", () => {
    const big = bertMask([Array.from({ length: 20000 }, () => 5)], { maskTokenId: 1, vocabSize: 1000, probability: 1, maskReplaceProb: 0, randomReplaceProb: 1, seed: 3 });
    const v = rows(big.inputIds)[0];
    const n = v.length;
    const m = v.reduce((a, x) => a + x, 0) / n;
    const sd = Math.sqrt((1000 * 1000 - 1) / 12 / n);
    expect(Math.abs(m - 499.5)).toBeLessThan(5 * sd);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThan(1000);
  });

  it("is deterministic with a seed and returns int32 tensors", () => {
    const again = bertMask(ids, { maskTokenId: MASK, vocabSize: V, specialTokenIds: [CLS, SEP, PAD], attentionMask: att, seed: 7 });
    expect(rows(again.inputIds)).toEqual(inp);
    expect(again.labels.dtype).toBe("int32");
    expect(r.inputIds.shape).toEqual([B, T]);
  });

  it("whole-word masking selects all sub-tokens of a word or none; words selected with p (5 sigma)", () => {
    const Bw = 32,
      Tw = 96;
    const idsW: number[][] = [];
    const wordIds: (number | null)[][] = [];
    for (let b = 0; b < Bw; b++) {
      const row = [CLS];
      const w: (number | null)[] = [null];
      let word = 0;
      while (row.length < Tw - 1) {
        const len = 1 + ((b + word) % 3); // words of 1-3 sub-tokens
        for (let k = 0; k < len && row.length < Tw - 1; k++) {
          row.push(2000 + word * 3 + k);
          w.push(word);
        }
        word++;
      }
      row.push(SEP);
      w.push(null);
      idsW.push(row);
      wordIds.push(w);
    }
    const out = bertMask(idsW, { maskTokenId: MASK, vocabSize: V, specialTokenIds: [CLS, SEP], wordIds, seed: 11 });
    const lab = rows(out.labels);
    let words = 0,
      chosen = 0;
    for (let b = 0; b < Bw; b++) {
      const byWord = new Map<number, boolean[]>();
      wordIds[b].forEach((w, t) => {
        if (w === null) expect(lab[b][t]).toBe(-100);
        else byWord.set(w, [...(byWord.get(w) ?? []), lab[b][t] !== -100]);
      });
      for (const flags of byWord.values()) {
        expect(flags.every((f) => f === flags[0])).toBe(true);
        words++;
        if (flags[0]) chosen++;
      }
    }
    expect(withinBinomial(chosen, words, 0.15).ok).toBe(true);
  });

  it("accepts tensors and leaves the tensor count flat over repeated calls", () => {
    const t = tensor([[CLS, 5, 6, 7, SEP]], { dtype: "int32" });
    const before = memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const o = bertMask(t, { maskTokenId: MASK, vocabSize: 100, specialTokenIds: [CLS, SEP], seed: i });
      o.inputIds.dispose();
      o.labels.dispose();
    }
    expect(memory().numTensors).toBe(before);
    t.dispose();
  });
});

describe("spanMask (SpanBERT)", () => {
  it("span lengths follow the truncated geometric p = 0.2 on [1, 10] (exact mean 3.797..., 5-sigma bound on the sample mean)", () => {
    const dist = spanLengthDistribution(0.2, 1, 10);
    const mu = dist.reduce((a, p, i) => a + p * (i + 1), 0);
    const varL = dist.reduce((a, p, i) => a + p * (i + 1 - mu) ** 2, 0);
    // sum_{l=1}^{10} l 0.2 0.8^(l-1) / sum 0.2 0.8^(l-1): SpanBERT's 3.8.
    expect(mu).toBeCloseTo(3.797, 3);
    const ids = Array.from({ length: 64 }, () => Array.from({ length: 256 }, (_, t) => 1000 + t));
    const r = spanMask(ids, { maskTokenId: MASK, vocabSize: V, seed: 5 });
    const lens = r.spanLengths.flat();
    const m = lens.reduce((a, v) => a + v, 0) / lens.length;
    expect(Math.abs(m - mu)).toBeLessThan(5 * Math.sqrt(varL / lens.length));
    expect(Math.max(...lens)).toBeLessThanOrEqual(10);
    expect(Math.min(...lens)).toBeGreaterThanOrEqual(1);
  });

  it("masks exactly ceil(eligible * 0.15) tokens per row, never specials, spans start at word boundaries, one 80/10/10 draw per span", () => {
    const B = 40,
      T = 120;
    const ids: number[][] = [];
    const wordIds: (number | null)[][] = [];
    for (let b = 0; b < B; b++) {
      const row = [CLS];
      const w: (number | null)[] = [null];
      let word = 0;
      while (row.length < T - 1) {
        const len = 1 + ((b * 7 + word) % 4);
        for (let k = 0; k < len && row.length < T - 1; k++) {
          row.push(2000 + word);
          w.push(word);
        }
        word++;
      }
      row.push(SEP);
      w.push(null);
      ids.push(row);
      wordIds.push(w);
    }
    const r = spanMask(ids, { maskTokenId: MASK, vocabSize: V, specialTokenIds: [CLS, SEP], wordIds, seed: 9 });
    const lab = rows(r.labels);
    const inp = rows(r.inputIds);
    let runs = 0,
      maskedRuns = 0;
    for (let b = 0; b < B; b++) {
      const sel = lab[b].map((v) => v !== -100);
      expect(sel.filter(Boolean).length).toBe(Math.ceil((T - 2) * 0.15));
      expect(sel[0] || sel[T - 1]).toBe(false);
      for (let t = 1; t < T; t++) {
        if (sel[t] && !sel[t - 1]) {
          expect(wordIds[b][t] !== wordIds[b][t - 1]).toBe(true); // a word start
          let e = t;
          while (e < T && sel[e]) e++;
          const status = inp[b].slice(t, e).map((v) => v === MASK);
          expect(status.every((s) => s === status[0])).toBe(true);
          runs++;
          if (status[0]) maskedRuns++;
        }
      }
    }
    expect(withinBinomial(maskedRuns, runs, 0.8).ok).toBe(true);
  });
});

describe("t5SpanCorruption (T5 random_spans_noise_mask + sentinels)", () => {
  it("matches a hand-computed case: 12 tokens, density 0.3, mean span 1.5 -> 4 noise tokens in 3 spans", () => {
    const ids = [Array.from({ length: 12 }, (_, i) => i + 10)];
    const r = t5SpanCorruption(ids, { vocabSize: 100, noiseDensity: 0.3, meanNoiseSpanLength: 1.5, eosId: 1, seed: 1 });
    // seed 1 draws the noise mask 010010000011: tokens 11, 14 and 20 21 are noise.
    expect(Array.from(r.noiseMasks[0]).join("")).toBe("010010000011");
    expect(rows(r.inputs)).toEqual([[10, 99, 12, 13, 98, 15, 16, 17, 18, 19, 97, 1]]);
    expect(rows(r.targets)).toEqual([[99, 11, 98, 14, 97, 20, 21, 1]]);
  });

  it("has exactly round(L * density) noise tokens in max(1, round(noise / mean)) spans, starting with non-noise (round half to even)", () => {
    const cases: [number, number, number, number, number][] = [
      // length, density, mean span, noise, spans
      [512, 0.15, 3, 77, 26], // 76.8 -> 77; 25.67 -> 26
      [100, 0.15, 3, 15, 5],
      [30, 0.15, 3, 4, 1], // 4.5 -> 4 (half to even); 1.33 -> 1
      [10, 0.15, 3, 2, 1], // 1.5 -> 2
      [30, 0.3, 2, 9, 4], // 4.5 -> 4 spans
      [2, 0.15, 3, 1, 1], // clamped to at least 1
    ];
    for (const [L, d, m, noise, spans] of cases) {
      for (let seed = 0; seed < 5; seed++) {
        const mask = Array.from(t5NoiseMask(L, { noiseDensity: d, meanNoiseSpanLength: m, seed }));
        expect(mask.reduce((a, v) => a + v, 0)).toBe(noise);
        const starts = mask.filter((v, i) => v === 1 && (i === 0 || mask[i - 1] === 0)).length;
        expect(starts).toBe(spans);
        expect(mask[0]).toBe(0);
      }
    }
  });

  it("numbers sentinels in order of appearance, counting down, in inputs and targets; output lengths follow the counts", () => {
    const B = 8,
      L = 100;
    const ids = Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, t) => 1000 + b * L + t));
    const r = t5SpanCorruption(ids, { sentinelStartId: 32099, eosId: 1, seed: 4 });
    expect(r.inputs.shape).toEqual([B, L - 15 + 5 + 1]);
    expect(r.targets.shape).toEqual([B, 15 + 5 + 1]);
    for (const row of [...rows(r.inputs), ...rows(r.targets)]) {
      const s = row.filter((v) => v >= 32000 && v < 32100);
      expect(s).toEqual([32099, 32098, 32097, 32096, 32095]);
      expect(row[row.length - 1]).toBe(1);
    }
    // inputs + targets rebuild the original: fill each input sentinel with the target span after the same sentinel.
    rows(r.inputs).forEach((inp, b) => {
      const tgt = rows(r.targets)[b];
      const spans = new Map<number, number[]>();
      let cur = -1;
      for (const v of tgt.slice(0, -1)) {
        if (v >= 32000) spans.set((cur = v), []);
        else spans.get(cur)!.push(v);
      }
      const rebuilt = inp.slice(0, -1).flatMap((v) => (v >= 32000 ? spans.get(v)! : [v]));
      expect(rebuilt).toEqual(ids[b]);
    });
  });
});

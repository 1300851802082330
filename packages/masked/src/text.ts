/**
 * Token masking for language models: BERT (Hugging Face DataCollatorForLanguageModeling, with
 * whole-word masking), SpanBERT span masking and T5 span corruption. Masks are drawn on the host
 * from a seeded Philox stream and returned as int32 tensors on the requested backend.
 */
import type { Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { rngFor, type Seed } from "./random";
import type { HostRandom } from "@tessera/tensor";
import { checkInt, checkProb, intTensor, readRows, readWordIds, roundHalfEven, type IdsLike } from "./util";

/** Label value of positions that carry no loss (torch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

/** Word ids per token: equal ids form one word; null or a negative id marks a token outside any word. */
export type WordIds = Tensor | readonly (readonly (number | null | undefined)[])[];

export interface TokenMaskOptions {
  /** Id written at masked positions (e.g. BERT's [MASK] = 103). */
  maskTokenId: number;
  /** Random replacements are uniform over [0, vocabSize). */
  vocabSize: number;
  /** Ids never selected (e.g. [CLS], [SEP], [PAD]). */
  specialTokenIds?: readonly number[];
  /** [B, T], 1 = real token, 0 = padding (never selected). */
  attentionMask?: IdsLike;
  /** [B, T] word id per token (see WordIds). */
  wordIds?: WordIds;
  /** Share of selected tokens replaced by maskTokenId. Default 0.8. */
  maskReplaceProb?: number;
  /** Share of selected tokens replaced by a random token. Default 0.1 (the rest stay unchanged). */
  randomReplaceProb?: number;
  seed?: Seed;
  /** Backend of the returned tensors; default: the ids tensor's backend, else the current one. */
  backend?: string;
}

export interface BertMaskOptions extends TokenMaskOptions {
  /** Selection probability per token (per word with wordIds). Default 0.15. */
  probability?: number;
}

export interface MaskedTokens {
  /** [B, T] int32: the corrupted input. */
  inputIds: Tensor;
  /** [B, T] int32: the original id at selected positions, -100 elsewhere. */
  labels: Tensor;
}

interface Prepared {
  ids: number[][];
  eligible: Uint8Array[];
  words: number[][] | null;
  backend: string | undefined;
  mask: number;
  vocab: number;
  pMask: number;
  pRandomScaled: number;
}

function prepare(op: string, idsIn: IdsLike, o: TokenMaskOptions): Prepared {
  if (!o || typeof o !== "object") fail(op, "options { maskTokenId, vocabSize } are required");
  const ids = readRows(op, "ids", idsIn);
  const B = ids.length;
  const T = ids[0].length;
  const vocab = checkInt(op, "vocabSize", o.vocabSize, 1);
  const mask = checkInt(op, "maskTokenId", o.maskTokenId, 0);
  const pMask = checkProb(op, "maskReplaceProb", o.maskReplaceProb ?? 0.8);
  const pRandom = checkProb(op, "randomReplaceProb", o.randomReplaceProb ?? 0.1);
  if (pMask + pRandom > 1 + 1e-12) fail(op, `maskReplaceProb + randomReplaceProb must be at most 1, got ${pMask} + ${pRandom}`);
  const special = new Set(o.specialTokenIds ?? []);
  const att = o.attentionMask === undefined ? null : readRows(op, "attentionMask", o.attentionMask, B, T);
  const words = o.wordIds === undefined ? null : readWordIds(op, o.wordIds, B, T);
  const eligible = ids.map((row, b) => {
    const e = new Uint8Array(T);
    for (let t = 0; t < T; t++) {
      if (!Number.isInteger(row[t])) fail(op, `ids must be integers, got ${row[t]} at [${b},${t}]`);
      e[t] = special.has(row[t]) || (att !== null && att[b][t] === 0) || (words !== null && words[b][t] < 0) ? 0 : 1;
    }
    return e;
  });
  const inputBackend = Array.isArray(idsIn) ? undefined : (idsIn as Tensor).backend; // results stay where the ids were
  const backend = o.backend ?? (typeof inputBackend === "string" ? inputBackend : undefined);
  // As Hugging Face: the random share is drawn among the selected tokens not already masked.
  const pRandomScaled = pMask >= 1 ? 0 : pRandom / (1 - pMask);
  return { ids, eligible, words, backend, mask, vocab, pMask, pRandomScaled };
}

/**
 * BERT masking (Devlin et al. 2019) with Hugging Face `DataCollatorForLanguageModeling`
 * semantics: each eligible token (not special, not padding) is selected independently with
 * `probability` (default 0.15); selected tokens become maskTokenId with probability 0.8, a token
 * uniform over [0, vocabSize) with probability 0.1 (0.5 of the rest), and stay unchanged
 * otherwise. Labels hold the original id at selected positions and -100 elsewhere.
 *
 * With `wordIds`, whole-word masking as Hugging Face's `whole_word_mask=True` (the current
 * variant, not the deprecated `DataCollatorForWholeWordMask` that shuffles words and takes an
 * exact count): each word is selected with `probability` (the draw is made at its first token)
 * and then every eligible token with the same word id in that row is selected.
 */
export function bertMask(ids: IdsLike, opts: BertMaskOptions): MaskedTokens {
  const op = "bertMask";
  const p = prepare(op, ids, opts);
  const prob = checkProb(op, "probability", opts.probability ?? 0.15);
  const rng = rngFor(op, opts.seed);
  const selected = p.ids.map((row, b) => {
    const T = row.length;
    const sel = new Uint8Array(T);
    const e = p.eligible[b];
    if (p.words === null) {
      for (let t = 0; t < T; t++) {
        const u = rng.uniform();
        sel[t] = e[t] && u < prob ? 1 : 0;
      }
    } else {
      const w = p.words[b];
      const chosen = new Map<number, boolean>();
      for (let t = 0; t < T; t++) {
        const u = rng.uniform();
        if (e[t] && !chosen.has(w[t])) chosen.set(w[t], u < prob);
      }
      for (let t = 0; t < T; t++) sel[t] = e[t] && chosen.get(w[t]) ? 1 : 0;
    }
    return sel;
  });
  return replace(p, selected, rng, false);
}

/** 80/10/10 replacement of selected tokens; per token, or per span (one draw for a run of selected tokens). */
function replace(p: Prepared, selected: Uint8Array[], rng: HostRandom, perSpan: boolean): MaskedTokens {
  const inputs: number[][] = [];
  const labels: number[][] = [];
  p.ids.forEach((row, b) => {
    const T = row.length;
    const inp = row.slice();
    const lab = new Array<number>(T).fill(IGNORE_INDEX);
    const sel = selected[b];
    let u1 = 0;
    let u2 = 0;
    for (let t = 0; t < T; t++) {
      const first = !perSpan || t === 0 || !sel[t - 1];
      if (first || !perSpan) {
        u1 = rng.uniform();
        u2 = rng.uniform();
      }
      const r = rng.below(p.vocab);
      if (!sel[t]) continue;
      lab[t] = row[t];
      if (u1 < p.pMask) inp[t] = p.mask;
      else if (u2 < p.pRandomScaled) inp[t] = r;
    }
    inputs.push(inp);
    labels.push(lab);
  });
  return { inputIds: intTensor(inputs, p.backend), labels: intTensor(labels, p.backend) };
}

export interface SpanMaskOptions extends TokenMaskOptions {
  /** Share of eligible tokens to mask: ceil(eligible * probability) per row. Default 0.15. */
  probability?: number;
  /** Success probability of the span-length geometric distribution. Default 0.2. */
  geometricP?: number;
  /** Shortest and longest span, in words. Defaults 1 and 10. */
  minSpan?: number;
  maxSpan?: number;
  /** "span" (default, SpanBERT): one 80/10/10 draw for every token of a span; "token": a draw per token. */
  replacement?: "span" | "token";
}

export interface SpanMasked extends MaskedTokens {
  /** Per row, the sampled span lengths (in words, before the budget cut the last one short). */
  spanLengths: number[][];
}

/** The span-length distribution of SpanBERT: p (1-p)^(l - min), renormalised over [min, max]. */
export function spanLengthDistribution(geometricP = 0.2, minSpan = 1, maxSpan = 10): number[] {
  const w: number[] = [];
  for (let l = minSpan; l <= maxSpan; l++) w.push(geometricP * (1 - geometricP) ** (l - minSpan));
  const s = w.reduce((a, v) => a + v, 0);
  return w.map((v) => v / s);
}

/**
 * SpanBERT span masking (Joshi et al. 2020; facebookresearch/SpanBERT `PairWithSpanMaskingScheme`):
 * per row, until ceil(eligible * probability) tokens are masked, draw a span length in words
 * from a geometric distribution (p = 0.2) truncated to [1, 10] and renormalised (mean 3.8 words),
 * an anchor uniform over the eligible tokens (again if already masked), and mask from the start
 * of the anchor's word over that many whole words, stopping at special/padding tokens, the end
 * of the row, or the budget (never over it). Without wordIds every token is a word. Adjacent
 * spans merge; each span then gets one 80/10/10 draw (mask / random / unchanged).
 */
export function spanMask(ids: IdsLike, opts: SpanMaskOptions): SpanMasked {
  const op = "spanMask";
  const p = prepare(op, ids, opts);
  const prob = checkProb(op, "probability", opts.probability ?? 0.15);
  const gp = opts.geometricP ?? 0.2;
  if (!(gp > 0 && gp <= 1)) fail(op, `geometricP must lie in (0, 1], got ${gp}`);
  const lo = checkInt(op, "minSpan", opts.minSpan ?? 1, 1);
  const hi = checkInt(op, "maxSpan", opts.maxSpan ?? 10, lo);
  const mode = opts.replacement ?? "span";
  if (mode !== "span" && mode !== "token") fail(op, `replacement must be "span" or "token", got ${String(mode)}`);
  const dist = spanLengthDistribution(gp, lo, hi);
  const rng = rngFor(op, opts.seed);
  const spanLengths: number[][] = [];
  const selected = p.ids.map((row, b) => {
    const T = row.length;
    const e = p.eligible[b];
    const w = p.words?.[b];
    const isStart = (t: number) => t === 0 || !e[t - 1] || (w !== undefined && w[t] !== w[t - 1]);
    const wordEnd = (t: number) => {
      let r = t + 1;
      while (r < T && e[r] && !isStart(r)) r++;
      return r;
    };
    const pool: number[] = [];
    for (let t = 0; t < T; t++) if (e[t]) pool.push(t);
    const budget = Math.ceil(pool.length * prob);
    const sel = new Uint8Array(T);
    const lens: number[] = [];
    let count = 0;
    const add = (i: number) => {
      if (!sel[i]) {
        sel[i] = 1;
        count++;
      }
    };
    while (count < budget) {
      let u = rng.uniform();
      let k = 0;
      while (k < dist.length - 1 && u >= dist[k]) u -= dist[k++];
      const spanLen = lo + k;
      const anchor = pool[rng.below(pool.length)];
      if (sel[anchor]) continue;
      lens.push(spanLen);
      let left = anchor;
      while (left > 0 && e[left - 1] && !isStart(left)) left--;
      let right = wordEnd(anchor);
      for (let i = left; i < right && count < budget; i++) add(i);
      let words = 1;
      while (words < spanLen && right < T && e[right] && count < budget) {
        const l2 = right;
        right = wordEnd(right);
        words++;
        for (let i = l2; i < right && count < budget; i++) add(i);
      }
    }
    spanLengths.push(lens);
    return sel;
  });
  return { ...replace(p, selected, rng, mode === "span"), spanLengths };
}

export interface T5NoiseOptions {
  /** Share of noise tokens: round(length * noiseDensity), clamped to [1, length - 1]. Default 0.15. */
  noiseDensity?: number;
  /** Mean noise-span length: spans = max(1, round(noiseTokens / meanNoiseSpanLength)). Default 3. */
  meanNoiseSpanLength?: number;
  seed?: Seed;
}

function t5Counts(op: string, length: number, density: number, meanLen: number) {
  const L = Math.max(length, 2);
  const noise = Math.min(Math.max(roundHalfEven(L * density), 1), L - 1);
  const spans = Math.max(roundHalfEven(noise / meanLen), 1);
  if (spans > L - noise) fail(op, `length ${length} cannot hold ${spans} noise spans with ${L - noise} non-noise tokens`);
  return { L, noise, spans };
}

/** Random partition of numItems into numSegments non-empty segments (T5's _random_segmentation). */
function randomSegmentation(rng: HostRandom, numItems: number, numSegments: number): number[] {
  const cuts = new Uint8Array(Math.max(numItems - 1, 0));
  for (let i = 0; i < numSegments - 1; i++) cuts[i] = 1;
  rng.shuffle(cuts);
  const lens = new Array<number>(numSegments).fill(0);
  let seg = 0;
  lens[0] = 1;
  for (let i = 0; i < cuts.length; i++) {
    seg += cuts[i];
    lens[seg]++;
  }
  return lens;
}

/**
 * T5's `random_spans_noise_mask` (Raffel et al. 2020, t5/data/preprocessors.py): exactly
 * round(length * noiseDensity) noise tokens (clamped to [1, length - 1], round half to even as
 * tf.round) in max(1, round(noise / meanNoiseSpanLength)) spans; noise and non-noise spans
 * alternate, starting with non-noise; all such masks are equally likely. 1 = noise.
 */
export function t5NoiseMask(length: number, opts: T5NoiseOptions = {}): Uint8Array {
  return t5NoiseMaskWith("t5NoiseMask", length, opts, rngFor("t5NoiseMask", opts.seed));
}

function t5NoiseMaskWith(op: string, length: number, opts: T5NoiseOptions, rng: HostRandom): Uint8Array {
  checkInt(op, "length", length, 1);
  const density = checkProb(op, "noiseDensity", opts.noiseDensity ?? 0.15);
  const meanLen = opts.meanNoiseSpanLength ?? 3;
  if (!(meanLen > 0) || !Number.isFinite(meanLen)) fail(op, `meanNoiseSpanLength must be a positive number, got ${meanLen}`);
  const { L, noise, spans } = t5Counts(op, length, density, meanLen);
  const noiseLens = randomSegmentation(rng, noise, spans);
  const nonNoiseLens = randomSegmentation(rng, L - noise, spans);
  const out = new Uint8Array(L);
  let at = 0;
  for (let s = 0; s < spans; s++) {
    at += nonNoiseLens[s];
    for (let i = 0; i < noiseLens[s]; i++) out[at++] = 1;
  }
  return out.subarray(0, length);
}

export interface T5SpanCorruptionOptions extends T5NoiseOptions {
  /** Sentinel k is vocabSize - 1 - k (T5: <extra_id_0> is the last id of the vocabulary). */
  vocabSize?: number;
  /** Sentinel k is sentinelStartId - k (counting down, as T5). */
  sentinelStartId?: number;
  /** Explicit sentinel ids: sentinel k is sentinelIds[k]. */
  sentinelIds?: readonly number[];
  /** Appended to both inputs and targets when given (T5's EOS = 1). */
  eosId?: number;
  backend?: string;
}

export interface T5Corrupted {
  /** [B, length - noise + spans (+1 with eosId)] int32. */
  inputs: Tensor;
  /** [B, noise + spans (+1 with eosId)] int32. */
  targets: Tensor;
  /** Per row, the noise mask (1 = noise). */
  noiseMasks: Uint8Array[];
}

/**
 * T5 span corruption: `random_spans_noise_mask` per row, then inputs =
 * `noise_span_to_unique_sentinel` (each noise span becomes one sentinel) and targets =
 * `nonnoise_span_to_unique_sentinel` (each non-noise span becomes one sentinel), sentinels
 * counting down from the start id in order of appearance, EOS appended to both when given.
 * Every row has the same length (no padding), so both outputs are rectangular.
 */
export function t5SpanCorruption(ids: IdsLike, opts: T5SpanCorruptionOptions = {}): T5Corrupted {
  const op = "t5SpanCorruption";
  const rows = readRows(op, "ids", ids);
  const given = [opts.vocabSize, opts.sentinelStartId, opts.sentinelIds].filter((v) => v !== undefined).length;
  if (given !== 1) fail(op, "give exactly one of vocabSize (T5: sentinel k = vocabSize - 1 - k), sentinelStartId or sentinelIds");
  let sentinel: (k: number) => number;
  if (opts.sentinelIds !== undefined) {
    const s = opts.sentinelIds;
    if (!Array.isArray(s) || s.some((v) => !Number.isInteger(v))) fail(op, "sentinelIds must be an array of integers");
    sentinel = (k) => (k < s.length ? s[k] : fail(op, `needs sentinel ${k} but sentinelIds has only ${s.length}`));
  } else {
    const start = opts.sentinelStartId ?? checkInt(op, "vocabSize", opts.vocabSize, 1) - 1;
    checkInt(op, "sentinelStartId", start, 0);
    sentinel = (k) => (start - k >= 0 ? start - k : fail(op, `sentinel ${k} would be ${start - k}: too many spans for sentinelStartId ${start}`));
  }
  if (opts.eosId !== undefined) checkInt(op, "eosId", opts.eosId, 0);
  const rng = rngFor(op, opts.seed);
  const inputs: number[][] = [];
  const targets: number[][] = [];
  const noiseMasks: Uint8Array[] = [];
  for (const row of rows) {
    const m = t5NoiseMaskWith(op, row.length, opts, rng);
    noiseMasks.push(m);
    inputs.push(toSentinels(row, m, 1, sentinel, opts.eosId));
    targets.push(toSentinels(row, m, 0, sentinel, opts.eosId));
  }
  const backend = opts.backend ?? (Array.isArray(ids) ? undefined : (ids as Tensor).backend);
  return { inputs: intTensor(inputs, backend), targets: intTensor(targets, backend), noiseMasks };
}

/** Each run of positions where mask == which becomes one sentinel (numbered in order). */
function toSentinels(row: number[], mask: Uint8Array, which: number, sentinel: (k: number) => number, eos?: number): number[] {
  const out: number[] = [];
  let k = 0;
  for (let t = 0; t < row.length; t++) {
    const hit = mask[t] === which;
    const prev = t > 0 && mask[t - 1] === which;
    if (!hit) out.push(row[t]);
    else if (!prev) out.push(sentinel(k++));
  }
  if (eos !== undefined) out.push(eos);
  return out;
}

/**
 * The vendored SpamAssassin subset (data/spam-assassin/, see its README) as token sequences for
 * the masked-pre-training experiments: a small word-level tokenizer whose out-of-vocabulary words
 * fall back to 2-character pieces, so a word can span several tokens and whole-word masking
 * differs from token masking. Browser-safe (no I/O); the Node loader is `spamAssassin` in ./node.ts.
 *
 * Pre-tokenizing: lowercase, then runs of [a-z0-9] are words and every other non-space character
 * is a word of its own. A word in the vocabulary is one token; any other word is cut into pieces of
 * 2 characters, the first as is and the rest prefixed "##" (BERT's WordPiece marks), each piece
 * its id or [UNK]. Every token carries the index of its word (`wordIds`, -1 for [CLS]/[SEP]/[PAD]).
 */

export interface TextExample {
  /** "<group>/<id>" in the SpamAssassin corpus. */
  id: string;
  /** 0 = ham, 1 = spam. */
  label: number;
  text: string;
}

export const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const CLS_ID = 2;
export const SEP_ID = 3;
export const MASK_ID = 4;
export const PIECE_CHARS = 2;

/** Lowercased words: runs of [a-z0-9], and each other non-space character alone. */
export function preTokenize(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];
}

/** The 2-character pieces of a word: "tessera" -> ["te", "##ss", "##er", "##a"]. */
export function wordPieces(word: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < word.length; i += PIECE_CHARS) out.push((i ? "##" : "") + word.slice(i, i + PIECE_CHARS));
  return out;
}

export interface Vocabulary {
  /** Token strings by id: the 5 special tokens, then words, then pieces. */
  tokens: string[];
  ids: Map<string, number>;
  words: number;
  pieces: number;
}

const byCount = (counts: Map<string, number>, n: number): string[] =>
  [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([w]) => w);

/** The `words` most frequent words of `texts`, then the `pieces` most frequent pieces of the other words (ties: alphabetical). */
export function buildVocabulary(texts: readonly string[], o: { words: number; pieces: number }): Vocabulary {
  const wordCounts = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  const words = byCount(wordCounts, o.words);
  const known = new Set(words);
  const pieceCounts = new Map<string, number>();
  for (const [w, c] of wordCounts) if (!known.has(w)) for (const p of wordPieces(w)) pieceCounts.set(p, (pieceCounts.get(p) ?? 0) + c);
  const pieces = byCount(pieceCounts, o.pieces);
  const tokens = [...SPECIAL_TOKENS, ...words, ...pieces];
  return { tokens, ids: new Map(tokens.map((t, i) => [t, i])), words: words.length, pieces: pieces.length };
}

export interface EncodedText {
  /** [CLS] tokens... [SEP] then [PAD] to seqLen. */
  ids: Int32Array;
  /** Word index per token (0, 1, ... in order), -1 for special tokens and padding. */
  wordIds: Int32Array;
  /** Tokens before the padding. */
  length: number;
  label: number;
}

/** Encodes the start of a text: [CLS] + as many whole tokens as fit + [SEP], padded with [PAD]. */
export function encodeText(vocab: Vocabulary, text: string, seqLen: number, label = -1): EncodedText {
  const ids = new Int32Array(seqLen).fill(PAD_ID);
  const wordIds = new Int32Array(seqLen).fill(-1);
  ids[0] = CLS_ID;
  let t = 1;
  let word = 0;
  outer: for (const w of preTokenize(text)) {
    const direct = vocab.ids.get(w);
    const pieces = direct !== undefined ? [direct] : wordPieces(w).map((p) => vocab.ids.get(p) ?? UNK_ID);
    for (const id of pieces) {
      if (t >= seqLen - 1) break outer;
      ids[t] = id;
      wordIds[t++] = word;
    }
    word++;
  }
  ids[t++] = SEP_ID;
  return { ids, wordIds, length: t, label };
}

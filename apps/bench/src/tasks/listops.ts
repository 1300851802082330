/**
 * ListOps (Nangia & Bowman 2018) as used by the Long Range Arena (Tay et al. 2021).
 *
 * Taken from google-research/long-range-arena, lra_benchmarks/data/listops.py (the generator LRA's
 * data was made with), and kept the same here:
 * - the grammar: operators `[MIN`, `[MAX`, `[MED`, `[SM` (FIRST / LAST are defined there but
 *   commented out of OPERATORS), closed by `]`; values 0-9;
 * - `generate_tree(depth, max_depth, max_args)`: below `max_depth` draw r ~ U[0, 1) (at `max_depth`
 *   r = 1); if r > VALUE_P = 0.25 the node is a value drawn uniformly from 0-9, otherwise an operator
 *   with `randint(2, max_args)` arguments (inclusive), each a subtree at depth + 1, the operator
 *   drawn uniformly after its arguments; the root is at depth 1, max_depth = 10, max_args = 10;
 * - the length is the token count (a value 1, an operator 2 + its arguments) and a tree is kept
 *   only when `min_length < length < max_length` (both strict; 500 and 2000 in LRA), by rejection;
 * - duplicates are dropped (listops.py collects the trees in a set);
 * - the label (`to_value`): MIN, MAX, MED = `int(np.median(args))` (an even count averages the two
 *   middle values, then truncates), SM = `sum(args) % 10`.
 * Different from listops.py: the random numbers (Mulberry32 here, Python's Mersenne Twister there),
 * so the samples are drawn from the same distribution but are not the same samples; the text has
 * no `(` `)` (listops.py's `to_string` writes them around every binary node of its tuple encoding;
 * LRA's input pipeline does not use them as tokens) so it reads `[MAX 4 3 [MIN 2 3 ] 1 0 ]`.
 */
import { deriveSeed, randInt, seededRandom } from "./random";

export const LISTOPS_OPERATORS = ["[MIN", "[MAX", "[MED", "[SM"] as const;
export type ListOpsOperator = (typeof LISTOPS_OPERATORS)[number];
/** listops.py's VALUE_P: the probability threshold above which a node is a value. */
export const LISTOPS_VALUE_P = 0.25;

type Tree = number | { op: ListOpsOperator; args: Tree[] };

export interface ListOpsOptions {
  count: number;
  /** Exclusive lower bound on the token count (listops.py: `length > min_length`); default 500. */
  minLength?: number;
  /** Exclusive upper bound on the token count (`length < max_length`); default 2000. */
  maxLength?: number;
  /** Root at depth 1; below this depth a node may be an operator; default 10. */
  maxDepth?: number;
  /** At most this many arguments per operator (at least 2); default 10. */
  maxArgs?: number;
  seed: number;
}

export interface ListOpsExample {
  /** Space-separated tokens, e.g. `[MAX 4 3 [MIN 2 3 ] 1 0 ]`. */
  text: string;
  /** The value of the expression, 0-9. */
  label: number;
}

function generateTree(rng: () => number, depth: number, maxDepth: number, maxArgs: number): [Tree, number] {
  const r = depth < maxDepth ? rng() : 1;
  if (r > LISTOPS_VALUE_P) return [Math.floor(rng() * 10), 1];
  const n = randInt(rng, 2, maxArgs);
  const args: Tree[] = [];
  let length = 2;
  for (let i = 0; i < n; i++) {
    const [t, l] = generateTree(rng, depth + 1, maxDepth, maxArgs);
    args.push(t);
    length += l;
  }
  const op = LISTOPS_OPERATORS[Math.floor(rng() * LISTOPS_OPERATORS.length)];
  return [{ op, args }, length];
}

function evaluate(t: Tree): number {
  if (typeof t === "number") return t;
  const v = t.args.map(evaluate);
  switch (t.op) {
    case "[MIN":
      return Math.min(...v);
    case "[MAX":
      return Math.max(...v);
    case "[MED": {
      const s = [...v].sort((a, b) => a - b);
      const m = s.length >> 1;
      return Math.trunc(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2);
    }
    case "[SM":
      return v.reduce((a, b) => a + b, 0) % 10;
  }
}

function toText(t: Tree, out: string[]): void {
  if (typeof t === "number") {
    out.push(String(t));
    return;
  }
  out.push(t.op);
  for (const a of t.args) toText(a, out);
  out.push("]");
}

/** `count` distinct ListOps expressions with their values (deterministic in `seed`). */
export function listops(o: ListOpsOptions): ListOpsExample[] {
  const minLength = o.minLength ?? 500;
  const maxLength = o.maxLength ?? 2000;
  const maxDepth = o.maxDepth ?? 10;
  const maxArgs = o.maxArgs ?? 10;
  if (maxArgs < 2) throw new Error(`listops: maxArgs must be at least 2, got ${maxArgs}`);
  if (maxLength - minLength < 2) throw new Error(`listops: no length strictly between ${minLength} and ${maxLength}`);
  const rng = seededRandom(deriveSeed(o.seed, 0x11));
  const seen = new Set<string>();
  const out: ListOpsExample[] = [];
  let tries = 0;
  while (out.length < o.count) {
    if (++tries > 1000 * (o.count + 100)) throw new Error(`listops: no trees with ${minLength} < length < ${maxLength} found (depth ${maxDepth}, args ${maxArgs})`);
    const [tree, length] = generateTree(rng, 1, maxDepth, maxArgs);
    if (!(length > minLength && length < maxLength)) continue;
    const tokens: string[] = [];
    toText(tree, tokens);
    const text = tokens.join(" ");
    if (seen.has(text)) continue;
    seen.add(text);
    out.push({ text, label: evaluate(tree) });
  }
  return out;
}

/**
 * The token vocabulary: id 0 is padding, ids 1-10 the digits 0-9, then the operators and `]`.
 * `LISTOPS_VOCAB[id]` is the token text.
 */
export const LISTOPS_VOCAB = ["<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "[MIN", "[MAX", "[MED", "[SM", "]"] as const;
export const LISTOPS_PAD = 0;
export const LISTOPS_VOCAB_SIZE = LISTOPS_VOCAB.length;
const TOKEN_ID = new Map<string, number>(LISTOPS_VOCAB.map((t, i) => [t, i]));

/** Token ids of a ListOps text; with `padTo`, right-padded with 0 to that length (an error if longer). */
export function listopsTokenize(text: string, padTo?: number): Int32Array {
  const tokens = text.split(" ").filter((t) => t.length > 0);
  if (padTo !== undefined && tokens.length > padTo) throw new Error(`listopsTokenize: ${tokens.length} tokens do not fit in ${padTo}`);
  const ids = new Int32Array(padTo ?? tokens.length);
  tokens.forEach((t, i) => {
    const id = TOKEN_ID.get(t);
    if (id === undefined || id === LISTOPS_PAD) throw new Error(`listopsTokenize: unknown token ${JSON.stringify(t)}`);
    ids[i] = id;
  });
  return ids;
}

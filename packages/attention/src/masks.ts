/**
 * Attention mask builders: boolean [Tq, Tk] (or batched) masks where true = may attend. Each one
 * is a pattern used by a fast kernel in this package and is checked against it with a dense
 * masked reference in the tests. Combine with `allOf` / `anyOf`; turn into logit biases with
 * `toAdditive`.
 */
import { add, arange, div, eq, floor, ge, le, logicalAnd, logicalNot, logicalOr, sub, tensor, unsqueeze, where, type Tensor } from "@tessera/tensor";

export interface MaskOptions {
  backend?: string;
}

/** Query and key positions, bottom-right aligned: [Tq, 1] and [1, Tk]. */
function positions(Tq: number, Tk: number, b?: string): [Tensor, Tensor] {
  return [unsqueeze(arange(Tk - Tq, Tk, 1, { backend: b }), 1), unsqueeze(arange(Tk, undefined, 1, { backend: b }), 0)];
}

/** j <= i (bottom-right aligned when Tq != Tk). */
export function causalMask(Tq: number, Tk = Tq, opts: MaskOptions = {}): Tensor {
  const [q, k] = positions(Tq, Tk, opts.backend);
  return le(k, q);
}

/** Keys within [p - left, p + right] of the query position p (Longformer's band). */
export function slidingWindowMask(Tq: number, Tk: number, left: number, right: number, opts: MaskOptions = {}): Tensor {
  const [q, k] = positions(Tq, Tk, opts.backend);
  return logicalAnd(ge(k, sub(q, left)), le(k, add(q, right)));
}

/** Non-overlapping blocks of `block` tokens attend only within themselves (TransNormer's DiagAttention). */
export function blockDiagonalMask(T: number, block: number, opts: MaskOptions = {}): Tensor {
  const [q, k] = positions(T, T, opts.backend);
  return eq(floor(div(q, block)), floor(div(k, block)));
}

/** Global tokens attend to everything and are attended by everything (Longformer / BigBird). */
export function globalTokensMask(T: number, globalTokens: readonly number[], opts: MaskOptions = {}): Tensor {
  const g = new Float64Array(T);
  for (const t of globalTokens) {
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`globalTokensMask: global token ${t} is outside [0, ${T})`);
    g[t] = 1;
  }
  const isG = tensor(g, { dtype: "bool", backend: opts.backend });
  return logicalOr(unsqueeze(isG, 1), unsqueeze(isG, 0));
}

/**
 * BigBird's pattern at block granularity: each query block sees its `windowBlocks` neighbours on
 * each side, the given random blocks, and the global tokens; global tokens see everything.
 * `randomBlocks[i]` lists the key blocks query block i also attends.
 */
export function blockSparseMask(
  T: number,
  block: number,
  opts: MaskOptions & { windowBlocks?: number; globalTokens?: readonly number[]; randomBlocks?: readonly (readonly number[])[]; causal?: boolean } = {},
): Tensor {
  const w = opts.windowBlocks ?? 1;
  const allowed = new Float64Array(T * T);
  for (let i = 0; i < T; i++) {
    const bi = Math.floor(i / block);
    const extra = new Set(opts.randomBlocks?.[bi] ?? []);
    for (let j = 0; j < T; j++) {
      const bj = Math.floor(j / block);
      if (Math.abs(bi - bj) <= w || extra.has(bj)) allowed[i * T + j] = 1;
    }
  }
  let m = tensor(allowed, { shape: [T, T], dtype: "bool", backend: opts.backend });
  if (opts.globalTokens?.length) m = logicalOr(m, globalTokensMask(T, opts.globalTokens, opts));
  if (opts.causal) m = logicalAnd(m, causalMask(T, T, opts));
  return m;
}

/** [B, Tk] padding flags (true = padding) as a [B, 1, 1, Tk] attend-mask. */
export function keyPaddingMask(keyPadding: Tensor): Tensor {
  return unsqueeze(unsqueeze(logicalNot(keyPadding), 1), 1);
}

export function allOf(...masks: Tensor[]): Tensor {
  return masks.reduce((a, b) => logicalAnd(a, b));
}

export function anyOf(...masks: Tensor[]): Tensor {
  return masks.reduce((a, b) => logicalOr(a, b));
}

/** Boolean mask -> additive logit bias (0 where attended, -inf elsewhere). */
export function toAdditive(mask: Tensor): Tensor {
  return where(mask, 0, -Infinity);
}

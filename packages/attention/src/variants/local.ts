/**
 * Local and sparse softmax attention, computed without forming the dense [Tq, Tk] scores.
 * Each has a dense masked equivalent (scaledDotProductAttention with the matching mask from
 * masks.ts) that the tests compare against.
 *
 *  - slidingWindowAttention (Longformer's band; Beltagy et al. 2020): query at position p sees
 *    keys [p - left, p + right]. Queries go in blocks; a block reads only its key band:
 *    O(T (block + left + right)) work and memory.
 *  - diagAttention (TransNormer's DiagAttention; Qin et al. 2022): softmax within
 *    non-overlapping blocks of w tokens.
 *  - blockSparseAttention (BigBird; Zaheer et al. 2020): per query block, the window blocks
 *    around it, a few random blocks and the global tokens; global tokens attend to everything.
 * Self-attention layout (Tq = Tk = T).
 */
import { arange, concat, indexSelect, le, ge, logicalAnd, narrow, pad, reshape, sub, add, tensor, tidy, unsqueeze, type Tensor } from "@tessera/tensor";
import { scaledDotProductAttention, type AttentionOptions } from "../sdpa";
import { checkQKV, fail } from "../shapes";
import { repeatKV } from "./linear";

type Base = Pick<AttentionOptions, "scale" | "softcap">;

/** Attend queries at absolute positions [q0, q0+nq) to keys [k0, k0+nk) with an explicit allow-mask. */
function attendRange(q: Tensor, k: Tensor, v: Tensor, q0: number, nq: number, k0: number, nk: number, allowed: (qp: Tensor, kp: Tensor) => Tensor, o: Base): Tensor {
  const qp = unsqueeze(arange(q0, q0 + nq, 1, { backend: q.backend }), 1); // [nq, 1]
  const kp = unsqueeze(arange(k0, k0 + nk, 1, { backend: q.backend }), 0); // [1, nk]
  return scaledDotProductAttention(narrow(q, 2, q0, nq), narrow(k, 2, k0, nk), narrow(v, 2, k0, nk), { ...o, mask: allowed(qp, kp), implementation: "reference" });
}

export interface SlidingWindowOptions extends Base {
  /** Keys before the query (inclusive window on the left). */
  left: number;
  /** Keys after the query (default 0: causal). */
  right?: number;
  /** Queries per block (default max(left, right, 64)). */
  blockSize?: number;
}

export function slidingWindowAttention(q: Tensor, k: Tensor, v: Tensor, opts: SlidingWindowOptions): Tensor {
  const d = checkQKV("slidingWindowAttention", q, k, v);
  if (d.Tq !== d.Tk) fail("slidingWindowAttention", `needs self-attention (Tq = Tk), got ${d.Tq} and ${d.Tk}`);
  const left = opts.left;
  const right = opts.right ?? 0;
  if (!(left >= 0 && right >= 0)) fail("slidingWindowAttention", `left ${left} and right ${right} must be non-negative`);
  const T = d.Tq;
  const block = Math.max(1, opts.blockSize ?? Math.max(left, right, 64));
  return tidy(() => {
    const outs: Tensor[] = [];
    for (let q0 = 0; q0 < T; q0 += block) {
      const nq = Math.min(block, T - q0);
      const k0 = Math.max(0, q0 - left);
      const k1 = Math.min(T, q0 + nq + right);
      outs.push(attendRange(q, k, v, q0, nq, k0, k1 - k0, (qp, kp) => logicalAnd(ge(kp, sub(qp, left)), le(kp, add(qp, right))), opts));
    }
    return concat(outs, 2);
  });
}

export interface DiagAttentionOptions extends Base {
  /** Block length w (default 64). */
  block?: number;
  /** Causal within each block. */
  causal?: boolean;
}

/** Softmax attention inside non-overlapping blocks of `block` tokens (batched over blocks). */
export function diagAttention(q: Tensor, k: Tensor, v: Tensor, opts: DiagAttentionOptions = {}): Tensor {
  const d = checkQKV("diagAttention", q, k, v);
  if (d.Tq !== d.Tk) fail("diagAttention", `needs self-attention (Tq = Tk), got ${d.Tq} and ${d.Tk}`);
  const w = Math.max(1, opts.block ?? 64);
  const T = d.Tq;
  const nb = Math.ceil(T / w);
  const Tp = nb * w;
  return tidy(() => {
    // [B, H, T, D] -> padded [B, H, nb*w, D] -> [B, H*nb, w, D]: blocks become heads.
    const blocks = (x: Tensor) =>
      reshape(
        Tp === T
          ? x
          : pad(x, [
              [0, 0],
              [0, 0],
              [0, Tp - T],
              [0, 0],
            ]),
        [d.B, x.shape[1] * nb, w, x.shape[3]],
      );
    // Padded keys of the last block are masked: [1, H*nb?, 1, w] built per block position.
    const valid = new Float64Array(nb * w);
    for (let i = 0; i < T; i++) valid[i] = 1;
    const keyMask = reshape(tensor(valid, { dtype: "bool", backend: q.backend }), [1, 1, nb, 1, w]);
    const mask = reshape(
      concat(
        Array.from({ length: d.H }, () => keyMask),
        1,
      ),
      [1, d.H * nb, 1, w],
    );
    // Blocks become heads, so key/value heads are repeated to the query heads first.
    const kb = blocks(repeatKV(k, d.G));
    const vb = blocks(repeatKV(v, d.G));
    const qb = blocks(q);
    const out = scaledDotProductAttention(qb, kb, vb, { ...opts, mask, causal: opts.causal, implementation: "reference" });
    return narrow(reshape(out, [d.B, d.H, Tp, d.Dv]), 2, 0, T);
  });
}

export interface BlockSparseOptions extends Base {
  block: number;
  /** Window blocks on each side of a query block (default 1). */
  windowBlocks?: number;
  /** Token indices with global attention. */
  globalTokens?: readonly number[];
  /** Per query block, the extra key blocks it attends (BigBird's random blocks). */
  randomBlocks?: readonly (readonly number[])[];
  causal?: boolean;
}

/**
 * BigBird/Longformer block-sparse attention: per query block, only the key blocks it may see
 * are gathered; rows of global tokens attend to all keys.
 */
export function blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, opts: BlockSparseOptions): Tensor {
  const d = checkQKV("blockSparseAttention", q, k, v);
  if (d.Tq !== d.Tk) fail("blockSparseAttention", `needs self-attention (Tq = Tk), got ${d.Tq} and ${d.Tk}`);
  const T = d.Tq;
  const bs = opts.block;
  const w = opts.windowBlocks ?? 1;
  const globals = [...new Set(opts.globalTokens ?? [])].sort((a, b) => a - b);
  for (const g of globals) if (!Number.isInteger(g) || g < 0 || g >= T) fail("blockSparseAttention", `global token ${g} is outside [0, ${T})`);
  const nb = Math.ceil(T / bs);
  const isGlobal = new Set(globals);
  return tidy(() => {
    const outs: Tensor[] = [];
    for (let bi = 0; bi < nb; bi++) {
      const q0 = bi * bs;
      const nq = Math.min(bs, T - q0);
      // Key indices: window blocks, random blocks, global tokens (sorted, unique).
      const keys = new Set<number>(globals);
      const blocksSeen = new Set<number>(opts.randomBlocks?.[bi] ?? []);
      for (let bj = bi - w; bj <= bi + w; bj++) if (bj >= 0 && bj < nb) blocksSeen.add(bj);
      for (const bj of blocksSeen) for (let j = bj * bs; j < Math.min(T, (bj + 1) * bs); j++) keys.add(j);
      const idx = [...keys].sort((a, b) => a - b);
      const idxT = tensor(idx, { dtype: "int32", backend: q.backend });
      const kp = reshape(tensor(idx, { backend: q.backend }), [1, idx.length]);
      const qp = unsqueeze(arange(q0, q0 + nq, 1, { backend: q.backend }), 1);
      const mask = opts.causal ? le(kp, qp) : undefined;
      let out = scaledDotProductAttention(narrow(q, 2, q0, nq), indexSelect(k, 2, idxT), indexSelect(v, 2, idxT), { ...opts, mask, implementation: "reference" });
      // Global query rows in this block attend to every key instead.
      const gRows = globals.filter((g) => g >= q0 && g < q0 + nq);
      if (gRows.length) {
        const rows: Tensor[] = [];
        for (let r = 0; r < nq; r++) {
          const t = q0 + r;
          rows.push(
            isGlobal.has(t)
              ? scaledDotProductAttention(narrow(q, 2, t, 1), opts.causal ? narrow(k, 2, 0, t + 1) : k, opts.causal ? narrow(v, 2, 0, t + 1) : v, {
                  ...opts,
                  causal: false,
                  implementation: "reference",
                })
              : narrow(out, 2, r, 1),
          );
        }
        out = concat(rows, 2);
      }
      outs.push(out);
    }
    return concat(outs, 2);
  });
}

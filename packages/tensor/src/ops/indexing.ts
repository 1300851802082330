/**
 * Index ops: gather / indexSelect / embedding / scatterAdd / oneHot / flip.
 */
import { isDType, type DType } from "../core/dtype";
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { normAxis } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { arange, zeros } from "./creation";
import { eq } from "./elementwise";
import { asTensor, backendOf, checkIntIndex, wrap, type TensorLike } from "./util";
import { expand, reshape, unsqueeze } from "./view";

function intIndex(op: string, index: TensorLike, like: Tensor): Tensor {
  const t = asTensor(op, "index", index, undefined, Array.isArray(index) ? "int32" : undefined);
  checkIntIndex(op, "index", t);
  backendOf(op, like, t);
  return t;
}

/**
 * torch.gather: out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis`.
 * index has x's rank and no larger size than x on the other axes; out has index's shape.
 */
export function gather(x: TensorLike, axis: number, index: TensorLike): Tensor {
  const t = asTensor("gather", "x", x);
  const idx = intIndex("gather", index, t);
  const a = normAxis("gather", axis, t.rank);
  if (idx.rank !== t.rank || idx.shape.some((d, i) => i !== a && d > t.shape[i])) {
    fail("gather", `index ${fmtShape(idx.shape)} must have the rank of x ${fmtShape(t.shape)} and no larger size off axis ${a}`);
  }
  const be = backendOf("gather", t, idx);
  const y = wrap(be, be.gather(t.view(), a, idx.view()), idx.shape, t.dtype);
  const xShape = t.shape;
  // Everything a backward rule reads comes in through its recorded inputs (here the index).
  return record("gather", [t, idx], y, (dy, [, ix]) => [scatterAdd(zeros(xShape, { dtype: dy.dtype, backend: dy.backend }), a, ix, dy), null]);
}

/** Rows of x at the 1-D `index` along `axis` (torch.index_select). */
export function indexSelect(x: TensorLike, axis: number, index: TensorLike): Tensor {
  const t = asTensor("indexSelect", "x", x);
  const idx = intIndex("indexSelect", index, t);
  const a = normAxis("indexSelect", axis, t.rank);
  if (idx.rank !== 1) fail("indexSelect", `index must be 1-D, got ${fmtShape(idx.shape)}`);
  const be = backendOf("indexSelect", t, idx);
  const shape = [...t.shape];
  shape[a] = idx.shape[0];
  const y = wrap(be, be.indexSelect(t.view(), a, idx.view()), shape, t.dtype);
  const xShape = t.shape;
  return record("indexSelect", [t, idx], y, (dy, [, ix]) => {
    const bshape = dy.shape.map((d, i) => (i === a ? d : 1));
    const full = expand(reshape(ix, bshape), dy.shape);
    return [scatterAdd(zeros(xShape, { dtype: dy.dtype, backend: dy.backend }), a, full, dy), null];
  });
}

/**
 * Checks integer values against [0, size) where the backend reads synchronously (cpu), so the
 * error names the public op and argument; other backends flag it at the next read.
 */
function checkRange(op: string, arg: string, t: Tensor, size: number, what: string): void {
  if (!t.storage.backend.canReadSync || t.size === 0) return;
  const v = t.dataSync();
  for (let k = 0; k < v.length; k++)
    if (!(v[k] >= 0 && v[k] < size))
      fail(op, `${arg} ${fmtShape(t.shape)} holds ${v[k]} at flat position ${k}: index ${v[k]} is out of range for ${what} (must lie in [0, ${size}))`);
}

/** Embedding lookup: weight [V, D], ids [...] (int, each in [0, V)) -> [..., D]. */
export function embedding(weight: TensorLike, ids: TensorLike): Tensor {
  const w = asTensor("embedding", "weight", weight);
  const i = intIndex("embedding", ids, w);
  if (w.rank !== 2) fail("embedding", `weight must be [vocab, dim], got ${fmtShape(w.shape)}`);
  checkRange("embedding", "ids", i, w.shape[0], `the vocabulary of weight ${fmtShape(w.shape)}`);
  return tidy(() => reshape(indexSelect(w, 0, reshape(i, [i.size])), [...i.shape, w.shape[1]]));
}

/** torch.scatter_add: out = base; out[..., index[i], ...] += src[i] along `axis`. */
export function scatterAdd(base: TensorLike, axis: number, index: TensorLike, src: TensorLike): Tensor {
  const b = asTensor("scatterAdd", "base", base);
  const idx = intIndex("scatterAdd", index, b);
  const s = asTensor("scatterAdd", "src", src, b);
  const a = normAxis("scatterAdd", axis, b.rank);
  if (idx.rank !== b.rank || s.rank !== b.rank) {
    fail("scatterAdd", `base ${fmtShape(b.shape)}, index ${fmtShape(idx.shape)} and src ${fmtShape(s.shape)} must have one rank`);
  }
  if (idx.shape.some((d, i) => d > s.shape[i] || (i !== a && d > b.shape[i]))) {
    fail("scatterAdd", `index ${fmtShape(idx.shape)} must fit in src ${fmtShape(s.shape)} and in base ${fmtShape(b.shape)} off axis ${a}`);
  }
  if (s.dtype !== b.dtype) fail("scatterAdd", `src dtype ${s.dtype} differs from base dtype ${b.dtype}`);
  const be = backendOf("scatterAdd", b, idx, s);
  const y = wrap(be, be.scatterAdd(b.view(), a, idx.view(), s.view()), b.shape, b.dtype);
  return record("scatterAdd", [b, s, idx], y, (dy, [, , ix]) => [dy, gather(dy, a, ix), null]);
}

/** One-hot encoding: [...] int -> [..., numClasses] (int32 unless a dtype is given). */
export function oneHot(indices: TensorLike, numClasses: number, dtype: DType = "int32"): Tensor {
  const i = intIndex("oneHot", indices, asTensor("oneHot", "indices", indices));
  if (!Number.isInteger(numClasses) || numClasses < 1) fail("oneHot", `numClasses must be a positive integer, got ${numClasses}`);
  if (!isDType(dtype)) fail("oneHot", `unknown dtype '${String(dtype)}'`);
  if (i.storage.backend.canReadSync && i.size > 0) {
    const v = i.dataSync();
    for (const x of v) if (x < 0 || x >= numClasses) fail("oneHot", `index ${x} is out of range for ${numClasses} classes`);
  }
  return tidy(() => cast(eq(unsqueeze(i, -1), arange(numClasses, undefined, 1, { backend: i.backend })), dtype));
}

/** Reverses the order along the given axes. */
export function flip(x: TensorLike, axes: number | readonly number[]): Tensor {
  const t = asTensor("flip", "x", x);
  const list = typeof axes === "number" ? [axes] : axes;
  return tidy(() => {
    let y = t;
    for (const ax of list) {
      const a = normAxis("flip", ax, t.rank);
      const n = t.shape[a];
      y = indexSelect(y, a, arange(n - 1, -1, -1, { backend: t.backend }));
    }
    return y === t ? cast(t, t.dtype) : y;
  });
}

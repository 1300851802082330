/**
 * Joining and splitting: concat, stack, split, chunk, pad.
 */
import { promoteTypes } from "../core/dtype";
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { contiguousStrides, normAxis, sizeOf } from "../core/shape";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { asTensor, backendOf, wrap, type TensorLike } from "./util";
import { narrow, slice, unsqueeze, type SliceSpec } from "./view";

/** Joins tensors along an existing axis; other dims must agree. */
export function concat(xs: readonly TensorLike[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) fail("concat", "needs a non-empty array of tensors");
  const ts = xs.map((x, i) => asTensor("concat", `xs[${i}]`, x));
  const be = backendOf("concat", ...ts);
  const rank = ts[0].rank;
  if (rank === 0) fail("concat", "cannot concatenate 0-d tensors (use stack)");
  const a = normAxis("concat", axis, rank);
  for (const [i, t] of ts.entries()) {
    if (t.rank !== rank || t.shape.some((d, j) => j !== a && d !== ts[0].shape[j])) {
      fail("concat", `xs[${i}] ${fmtShape(t.shape)} does not match xs[0] ${fmtShape(ts[0].shape)} off axis ${a}`);
    }
  }
  const dtype = ts.map((t) => t.dtype).reduce(promoteTypes);
  const shape = [...ts[0].shape];
  shape[a] = ts.reduce((s, t) => s + t.shape[a], 0);
  const data = be.fill(sizeOf(shape), dtype, 0);
  const strides = contiguousStrides(shape);
  let start = 0;
  for (const t of ts) {
    be.write({ data, dtype, shape: t.shape, strides, offset: start * strides[a] }, t.view());
    start += t.shape[a];
  }
  const y = wrap(be, data, shape, dtype);
  const sizes = ts.map((t) => t.shape[a]);
  return record("concat", ts, y, (dy, ins) => {
    let s = 0;
    return sizes.map((n, i) => {
      const g = narrow(dy, a, s, n);
      s += n;
      return ins[i].dtype === dy.dtype ? g : cast(g, ins[i].dtype);
    });
  });
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly TensorLike[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) fail("stack", "needs a non-empty array of tensors");
  const ts = xs.map((x, i) => asTensor("stack", `xs[${i}]`, x));
  for (const [i, t] of ts.entries()) {
    if (t.rank !== ts[0].rank || t.shape.some((d, j) => d !== ts[0].shape[j])) {
      fail("stack", `xs[${i}] ${fmtShape(t.shape)} differs from xs[0] ${fmtShape(ts[0].shape)}`);
    }
  }
  const a = normAxis("stack", axis, ts[0].rank + 1);
  return tidy(() =>
    concat(
      ts.map((t) => unsqueeze(t, a)),
      a,
    ),
  );
}

/** Splits into views of the given sizes (or into `n` equal parts) along `axis`. */
export function split(x: TensorLike, sizesOrCount: number | readonly number[], axis = 0): Tensor[] {
  const t = asTensor("split", "x", x);
  const a = normAxis("split", axis, t.rank);
  const n = t.shape[a];
  let sizes: number[];
  if (typeof sizesOrCount === "number") {
    if (!Number.isInteger(sizesOrCount) || sizesOrCount < 1 || n % sizesOrCount !== 0) {
      fail("split", `axis ${a} of size ${n} in ${fmtShape(t.shape)} does not split into ${sizesOrCount} equal parts`);
    }
    sizes = new Array<number>(sizesOrCount).fill(n / sizesOrCount);
  } else {
    sizes = [...sizesOrCount];
    if (sizes.reduce((s, v) => s + v, 0) !== n || sizes.some((v) => !Number.isInteger(v) || v < 0)) {
      fail("split", `sizes [${sizes.join(",")}] do not add up to axis ${a} of size ${n} in ${fmtShape(t.shape)}`);
    }
  }
  let s = 0;
  return sizes.map((len) => {
    const part = narrow(t, a, s, len);
    s += len;
    return part;
  });
}

/** Splits into `n` parts of size ceil(size/n) (the last may be smaller), as torch.chunk. */
export function chunk(x: TensorLike, n: number, axis = 0): Tensor[] {
  const t = asTensor("chunk", "x", x);
  const a = normAxis("chunk", axis, t.rank);
  if (!Number.isInteger(n) || n < 1) fail("chunk", `n must be a positive integer, got ${n}`);
  const size = Math.ceil(t.shape[a] / n);
  const sizes: number[] = [];
  for (let s = 0; s < t.shape[a]; s += size) sizes.push(Math.min(size, t.shape[a] - s));
  return split(t, sizes.length ? sizes : [0], a);
}

/**
 * Constant padding. `widths` gives [before, after] for each axis, from the first (NumPy's
 * np.pad order); a shorter list pads the trailing axes.
 */
export function pad(x: TensorLike, widths: readonly (readonly [number, number])[], value = 0): Tensor {
  const t = asTensor("pad", "x", x);
  const be = backendOf("pad", t);
  if (widths.length > t.rank) fail("pad", `${widths.length} [before, after] pairs for a tensor of rank ${t.rank} ${fmtShape(t.shape)}`);
  const lead = t.rank - widths.length;
  const w = t.shape.map((_, i) => (i < lead ? ([0, 0] as const) : widths[i - lead]));
  for (const [b, e] of w) if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0) fail("pad", `widths must be non-negative integers, got ${JSON.stringify(widths)}`);
  const shape = t.shape.map((d, i) => d + w[i][0] + w[i][1]);
  const data = be.fill(sizeOf(shape), t.dtype, value);
  const strides = contiguousStrides(shape);
  const offset = w.reduce((o, [b], i) => o + b * strides[i], 0);
  be.write({ data, dtype: t.dtype, shape: t.shape, strides, offset }, t.view());
  const y = wrap(be, data, shape, t.dtype);
  return record("pad", [t], y, (dy) => [
    slice(
      dy,
      w.map(([b], i): SliceSpec => [b, b + t.shape[i]]),
    ),
  ]);
}

/**
 * Triangular masks over the last two axes: triu keeps col - row >= k, tril keeps col - row <= k.
 */
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { arange } from "./creation";
import { ge, le, sub, where } from "./elementwise";
import { asTensor, type TensorLike } from "./util";
import { unsqueeze } from "./view";

function triangle(op: "triu" | "tril", x: TensorLike, k: number): Tensor {
  const t = asTensor(op, "x", x);
  if (t.rank < 2) fail(op, `x must have at least 2 dims, got ${fmtShape(t.shape)}`);
  if (!Number.isInteger(k)) fail(op, `diagonal offset k must be an integer, got ${k}`);
  const [R, C] = t.shape.slice(-2);
  return tidy(() => {
    const rows = unsqueeze(arange(R, undefined, 1, { backend: t.backend }), 1); // [R, 1]
    const cols = unsqueeze(arange(C, undefined, 1, { backend: t.backend }), 0); // [1, C]
    const d = sub(cols, rows); // [R, C]: col - row
    const mask = op === "triu" ? ge(d, k) : le(d, k);
    return where(mask, t, 0);
  });
}

/** Upper triangle (entries with col - row >= k), zero elsewhere. */
export const triu = (x: TensorLike, k = 0): Tensor => triangle("triu", x, k);
/** Lower triangle (entries with col - row <= k), zero elsewhere. */
export const tril = (x: TensorLike, k = 0): Tensor => triangle("tril", x, k);

/**
 * What gets added to the attention logits before the softmax: a user mask (boolean: true =
 * attend; or additive), causal and sliding-window structure, key padding and ALiBi. Built for a
 * block of key columns [j0, j0 + n) so the reference (all columns) and the tiled form (one key
 * block at a time) share one definition.
 *
 * Positions are bottom-right aligned (as FlashAttention 2, and a KV-cache decode step needs):
 * query i of Tq sits at absolute position i + Tk - Tq, key j at j. With Tq = Tk this is the usual
 * top-left causal mask (torch's is_causal).
 */
import { add, arange, expand, ge, isFloat, le, logicalAnd, logicalNot, mul, narrow, reshape, sub, abs, tensor, unsqueeze, where, type Tensor } from "@tessera/tensor";
import { fail, type QKVDims } from "./shapes";

export interface BiasOptions {
  /** Broadcastable to [B, H, Tq, Tk]: bool (true = attend) or float (added to the logits). */
  mask?: Tensor | null;
  /** Keys after each query's position are masked (bottom-right aligned). */
  causal?: boolean;
  /** Sliding window [left, right]: query at position p sees keys in [p - left, p + right]. */
  window?: readonly [number, number] | null;
  /** [B, Tk] bool, true = padding (ignored), as torch's key_padding_mask. */
  keyPadding?: Tensor | null;
  /** ALiBi slopes, one per query head: bias -slope * |p - j| (Press et al. 2022). */
  alibiSlopes?: Tensor | readonly number[] | null;
}

/** True when no bias applies. */
export function noBias(o: BiasOptions): boolean {
  return !o.mask && !o.causal && !o.window && !o.keyPadding && !o.alibiSlopes;
}

/** Checks the structured biases (window, ALiBi slopes, key padding) against the shapes; throws naming `op`. */
export function checkBias(op: string, o: BiasOptions, d: QKVDims): void {
  if (o.window) {
    const [left, right] = o.window;
    if (!(left >= 0 && right >= 0)) fail(op, `window [${left}, ${right}] must be non-negative`);
  }
  if (o.alibiSlopes) {
    const shape = Array.isArray(o.alibiSlopes) ? [o.alibiSlopes.length] : (o.alibiSlopes as Tensor).shape;
    if (shape.length !== 1 || shape[0] !== d.H) fail(op, `alibiSlopes must hold one slope per query head (${d.H}), got [${shape.join(",")}]`);
  }
  const kp = o.keyPadding;
  if (kp && (kp.rank !== 2 || kp.shape[0] !== d.B || kp.shape[1] !== d.Tk)) fail(op, `keyPadding must be [B, Tk] = [${d.B},${d.Tk}], got [${kp.shape.join(",")}]`);
}

/** Additive bias for key columns [j0, j0 + n), broadcastable to [B, H, Tq, n]; null if none. */
export function biasBlock(op: string, o: BiasOptions, d: QKVDims, j0: number, n: number, backend: string): Tensor | null {
  if (noBias(o)) return null;
  checkBias(op, o, d);
  const parts: Tensor[] = [];
  const ninf = -Infinity;
  if (o.causal || o.window || o.alibiSlopes) {
    const qpos = unsqueeze(arange(d.Tk - d.Tq, d.Tk, 1, { backend }), 1); // [Tq, 1]
    const kpos = unsqueeze(arange(j0, j0 + n, 1, { backend }), 0); // [1, n]
    let allowed: Tensor | null = null;
    if (o.causal) allowed = le(kpos, qpos);
    if (o.window) {
      const [left, right] = o.window;
      const inWindow = logicalAnd(ge(kpos, sub(qpos, left)), le(kpos, add(qpos, right)));
      allowed = allowed ? logicalAnd(allowed, inWindow) : inWindow;
    }
    if (allowed) parts.push(where(allowed, 0, ninf)); // [Tq, n]
    if (o.alibiSlopes) {
      const slopes = Array.isArray(o.alibiSlopes) ? tensor(o.alibiSlopes as number[], { backend }) : (o.alibiSlopes as Tensor);
      const dist = abs(sub(qpos, kpos)); // [Tq, n]
      parts.push(mul(reshape(slopes, [d.H, 1, 1]), mul(dist, -1))); // [H, Tq, n]
    }
  }
  if (o.keyPadding) {
    const kp = o.keyPadding;
    parts.push(where(reshape(narrow(kp, 1, j0, n), [d.B, 1, 1, n]), ninf, 0));
  }
  if (o.mask) {
    const m = o.mask;
    if (m.rank > 4) fail(op, `mask [${m.shape.join(",")}] has more than 4 dims`);
    const full = [d.B, d.H, d.Tq, d.Tk].slice(4 - m.rank);
    let mb: Tensor;
    try {
      mb = narrow(expand(m, full), -1, j0, n);
    } catch {
      fail(op, `mask [${m.shape.join(",")}] does not broadcast to [B, H, Tq, Tk] = [${d.B},${d.H},${d.Tq},${d.Tk}]`);
    }
    if (m.dtype === "bool") parts.push(where(mb, 0, ninf));
    else if (isFloat(m.dtype)) parts.push(mb);
    else parts.push(where(logicalNot(mb), ninf, 0));
  }
  return parts.reduce((a, b) => add(a, b));
}

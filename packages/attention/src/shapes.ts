/**
 * Shape checks shared by every attention function. Layout: q [B, H, Tq, Dh], k [B, Hkv, Tk, Dh],
 * v [B, Hkv, Tk, Dv]; H must be a multiple of Hkv (grouped-query attention: query head h uses
 * key/value head floor(h / (H / Hkv)), as repeat_interleave does).
 */
import { fail, type Tensor } from "@tessera/tensor";

export interface QKVDims {
  B: number;
  H: number;
  Hkv: number;
  /** Query heads per key/value head. */
  G: number;
  Tq: number;
  Tk: number;
  D: number;
  Dv: number;
}

const fmt = (t: Tensor) => `[${t.shape.join(",")}]`;

export { fail }; // @tessera/tensor's: throws TesseraError("op: message")

export function checkQKV(op: string, q: Tensor, k: Tensor, v: Tensor): QKVDims {
  for (const [n, t] of [
    ["q", q],
    ["k", k],
    ["v", v],
  ] as const) {
    if (t.rank !== 4) fail(op, `${n} must be [B, heads, T, Dh], got ${fmt(t)}`);
    if (!(t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16")) fail(op, `${n} must be a float tensor, got ${t.dtype} ${fmt(t)}`);
  }
  const [B, H, Tq, D] = q.shape;
  const [Bk, Hkv, Tk, Dk] = k.shape;
  const [Bv, Hv, Tv, Dv] = v.shape;
  if (Bk !== B || Bv !== B) fail(op, `batch sizes differ: q ${fmt(q)}, k ${fmt(k)}, v ${fmt(v)}`);
  if (Dk !== D) fail(op, `q ${fmt(q)} and k ${fmt(k)} disagree on the head dim (${D} vs ${Dk})`);
  if (Hv !== Hkv || Tv !== Tk) fail(op, `k ${fmt(k)} and v ${fmt(v)} must agree on heads and length`);
  if (Hkv === 0 || H % Hkv !== 0) fail(op, `query heads ${H} must be a multiple of key/value heads ${Hkv} (q ${fmt(q)}, k ${fmt(k)})`);
  return { B, H, Hkv, G: H / Hkv, Tq, Tk, D, Dv };
}

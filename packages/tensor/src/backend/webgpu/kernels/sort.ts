/**
 * Sorting and top-k along the last axis on WebGPU: a bitonic network over (value, index) pairs
 * padded to a power of two per row. Comparing indices on ties gives the stable order (as the
 * cpu kernel); NaN sorts as the largest value; padding always sorts last. log2(P)(log2(P)+1)/2
 * dispatches, each one compare-exchange per pair.
 */
import { sizeOf } from "../../../core/shape";
import type { GpuContext, GpuData } from "../context";
import { shader, store, wordOf } from "../wgsl";
import type { GpuView } from "./elementwise";

export function sortRows(ctx: GpuContext, x: GpuView, k: number, descending: boolean): { values: GpuData; indices: GpuData } {
  const n = x.shape[x.shape.length - 1] ?? 1;
  const rows = sizeOf(x.shape) / Math.max(n, 1);
  const P = 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
  const w = wordOf(x.dtype);
  const keys = ctx.alloc(rows * P);
  const idx = ctx.alloc(rows * P);
  // 1. Load rows (contiguous x) and pad.
  const init = shader({
    bindings: [
      { name: "kv", word: w, write: true },
      { name: "ki", word: "i32", write: true },
      { name: "xs", word: w },
    ],
    body: `  if (i >= prm[0] * prm[1]) { return; }
  let row = i / prm[1];
  let j = i % prm[1];
  ki[i] = i32(j);
  if (j < prm[2]) { kv[i] = xs[prm[3] + row * prm[2] + j]; }`,
  });
  ctx.dispatch(init, [keys.buffer, idx.buffer, x.data.buffer, ctx.meta([rows, P, n, x.offset])], Math.ceil((rows * P) / 256));
  // 2. Bitonic compare-exchange steps.
  const cmp =
    w === "f32"
      ? `fn cmpv(a: f32, b: f32) -> i32 {
  let an = isnan_(a); let bn = isnan_(b);
  if (an || bn) { return select(select(-1, 1, an), 0, an && bn); }
  return select(select(0, 1, a > b), -1, a < b);
}`
      : `fn cmpv(a: i32, b: i32) -> i32 { return select(select(0, 1, a > b), -1, a < b); }`;
  const before = `fn before(av: ${w}, ai: i32, bv: ${w}, bi: i32) -> bool {
  let n = i32(prm[2]);
  let ap = ai >= n; let bp = bi >= n;
  if (ap != bp) { return bp; }
  if (ap) { return ai < bi; }
  let c = cmpv(av, bv);
  if (c != 0) { return ${descending ? "c > 0" : "c < 0"}; }
  return ai < bi;
}`;
  const step = shader({
    bindings: [
      { name: "kv", word: w, write: true },
      { name: "ki", word: "i32", write: true },
    ],
    fns: [cmp, before],
    body: `  if (i >= prm[0] * prm[1]) { return; }
  let P = prm[1];
  let j = i % P;
  let base = i - j;
  let l = j ^ prm[4];
  if (l <= j) { return; }
  let up = (j & prm[3]) == 0u;
  let av = kv[base + j]; let ai = ki[base + j];
  let bv = kv[base + l]; let bi = ki[base + l];
  let swap = select(before(av, ai, bv, bi), before(bv, bi, av, ai), up);
  if (swap) { kv[base + j] = bv; ki[base + j] = bi; kv[base + l] = av; ki[base + l] = ai; }`,
  });
  for (let kk = 2; kk <= P; kk *= 2) {
    for (let jj = kk / 2; jj >= 1; jj /= 2) {
      ctx.dispatch(step, [keys.buffer, idx.buffer, ctx.meta([rows, P, n, kk, jj])], Math.ceil((rows * P) / 256));
    }
  }
  // 3. The first k of each row.
  const values = ctx.alloc(rows * k);
  const indices = ctx.alloc(rows * k);
  const take = shader({
    bindings: [
      { name: "ov", word: w, write: true },
      { name: "oi", word: "i32", write: true },
      { name: "kv", word: w },
      { name: "ki", word: "i32" },
    ],
    body: `  if (i >= prm[0] * prm[2]) { return; }
  let row = i / prm[2];
  let j = i % prm[2];
  ov[i] = ${store(`kv[row * prm[1] + j]`, x.dtype)};
  oi[i] = ki[row * prm[1] + j];`,
  });
  ctx.dispatch(take, [values.buffer, indices.buffer, keys.buffer, idx.buffer, ctx.meta([rows, P, k])], Math.ceil((rows * k) / 256));
  ctx.release(keys);
  ctx.release(idx);
  return { values, indices };
}

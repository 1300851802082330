/**
 * Swin window attention over a 2-D token grid (Liu et al. 2021, "Swin Transformer"). Tokens of an
 * [Hg, Wg] grid (row-major in the sequence axis) attend within non-overlapping M x M windows.
 * With `shift` s, the grid is first rolled by (-s, -s) (torch.roll(x, (-s, -s))) so windows
 * straddle the previous layer's window borders; tokens that were not neighbours before the roll
 * (the wrapped-around regions) are masked from each other; the output is rolled back.
 * Optional relative position bias: a table [heads, (2M-1)^2] indexed by the in-window offset.
 *
 * Implementation: one gather puts tokens in window order ([B, h, nW, M*M, D]); windows become
 * extra heads for the attention; one inverse gather restores the grid order.
 */
import { add, expand, indexSelect, reshape, tensor, tidy, where, type Tensor } from "@tessera/tensor";
import { scaledDotProductAttention } from "../sdpa";
import { checkQKV, fail } from "../shapes";
import { repeatKV } from "./linear";

export interface SwinOptions {
  grid: readonly [number, number];
  window: number;
  shift?: number;
  /** [heads, (2M-1)^2] learned biases (Swin's relative_position_bias_table, transposed). */
  relativeBias?: Tensor | null;
  scale?: number;
}

/** The window layout: for each window-ordered slot, the grid token it holds; and region ids. */
export function swinLayout(Hg: number, Wg: number, M: number, s: number): { order: number[]; region: number[] } {
  const order: number[] = [];
  const region: number[] = [];
  // Region id of a rolled-frame coordinate: Swin's slices [0, -M), [-M, -s), [-s, end).
  const band = (x: number, n: number) => (s === 0 ? 0 : x < n - M ? 0 : x < n - s ? 1 : 2);
  for (let wr = 0; wr < Hg / M; wr++) {
    for (let wc = 0; wc < Wg / M; wc++) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < M; j++) {
          const r = wr * M + i; // rolled-frame coordinates
          const c = wc * M + j;
          // roll(x, -s): rolled[r][c] = x[(r + s) % Hg][(c + s) % Wg]
          order.push(((r + s) % Hg) * Wg + ((c + s) % Wg));
          region.push(band(r, Hg) * 3 + band(c, Wg));
        }
      }
    }
  }
  return { order, region };
}

/** Index into a (2M-1)^2 relative-bias table for each pair of in-window positions [M*M, M*M]. */
export function relativePositionIndex(M: number): number[] {
  const idx: number[] = [];
  for (let a = 0; a < M * M; a++) {
    for (let b = 0; b < M * M; b++) {
      const dr = Math.floor(a / M) - Math.floor(b / M) + M - 1;
      const dc = (a % M) - (b % M) + M - 1;
      idx.push(dr * (2 * M - 1) + dc);
    }
  }
  return idx;
}

export function swinAttention(q: Tensor, k: Tensor, v: Tensor, opts: SwinOptions): Tensor {
  const d = checkQKV("swinAttention", q, k, v);
  const [Hg, Wg] = opts.grid;
  const M = opts.window;
  const s = opts.shift ?? 0;
  if (Hg * Wg !== d.Tq || d.Tq !== d.Tk) fail("swinAttention", `grid [${Hg}, ${Wg}] must hold the ${d.Tq} tokens (self-attention)`);
  if (Hg % M || Wg % M) fail("swinAttention", `grid [${Hg}, ${Wg}] must be divisible by the window ${M}`);
  if (!(s >= 0 && s < M)) fail("swinAttention", `shift ${s} must lie in [0, ${M})`);
  const nW = (Hg / M) * (Wg / M);
  const P = M * M;
  const { order, region } = swinLayout(Hg, Wg, M, s);
  return tidy(() => {
    const b = q.backend;
    const ord = tensor(order, { dtype: "int32", backend: b });
    const inv = new Array<number>(order.length);
    order.forEach((t, i) => (inv[t] = i));
    // [B, h, T, D] in window order -> [B, h*nW, P, D]
    const win = (x: Tensor) => reshape(indexSelect(x, 2, ord), [d.B, x.shape[1] * nW, P, x.shape[3]]);
    // Same region within a window (all true without a shift).
    const allow = new Float64Array(nW * P * P);
    for (let w = 0; w < nW; w++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) allow[(w * P + i) * P + j] = region[w * P + i] === region[w * P + j] ? 1 : 0;
    const regionMask = tensor(allow, { shape: [1, 1, nW, P, P], dtype: "bool", backend: b });
    // Additive bias [1, H, nW, P, P]: -inf across regions, plus the relative position bias.
    let bias = where(regionMask, 0, -Infinity);
    if (opts.relativeBias) {
      const rb = opts.relativeBias;
      if (rb.rank !== 2 || rb.shape[0] !== d.H || rb.shape[1] !== (2 * M - 1) ** 2)
        fail("swinAttention", `relativeBias must be [heads, (2M-1)^2] = [${d.H}, ${(2 * M - 1) ** 2}], got [${rb.shape}]`);
      bias = add(bias, reshape(indexSelect(rb, 1, tensor(relativePositionIndex(M), { dtype: "int32", backend: b })), [1, d.H, 1, P, P]));
    }
    const mask = reshape(expand(bias, [1, d.H, nW, P, P]), [1, d.H * nW, P, P]);
    const out = scaledDotProductAttention(win(q), win(repeatKV(k, d.G)), win(repeatKV(v, d.G)), { mask, scale: opts.scale, implementation: "reference" });
    return indexSelect(reshape(out, [d.B, d.H, d.Tq, d.Dv]), 2, tensor(inv, { dtype: "int32", backend: b }));
  });
}

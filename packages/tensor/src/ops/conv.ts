/**
 * 1-D convolution (cross-correlation, as torch.nn.functional.conv1d) with stride, padding,
 * dilation and groups. Depthwise causal convolution (groups = channels, padding 'causal') is
 * what Mamba's short conv uses.
 *
 * Backward, as op compositions:
 *   dx = conv1d(upsample_s(dy), flip_k(w) with in/out swapped per group, dilation d,
 *               padding left (K-1)d - padLeft)         (the transposed convolution)
 *   dw[co, ci, k] = sum_{b,t} dy[b, co, t] * xpad[b, ci, t*s + k*d]   (one batched matmul)
 *   db = sum_{b,t} dy
 */
import { fail, fmtShape } from "../core/errors";
import { record } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { zeros } from "./creation";
import { flip } from "./indexing";
import { concat, pad, stack } from "./join";
import { matmul } from "./matmul";
import { sum } from "./reduce";
import { asTensor, backendOf, checkFloat, wrap, type TensorLike } from "./util";
import { narrow, permute, reshape, slice } from "./view";

export interface Conv1dOptions {
  stride?: number;
  /** Zero padding: both sides, [left, right], 'valid' (0), 'same' (stride 1) or 'causal' ((K-1)*dilation on the left). */
  padding?: number | readonly [number, number] | "valid" | "same" | "causal";
  dilation?: number;
  groups?: number;
}

function resolvePadding(p: Conv1dOptions["padding"], K: number, dilation: number, stride: number): [number, number] {
  const span = (K - 1) * dilation;
  if (p === undefined || p === "valid") return [0, 0];
  if (p === "causal") return [span, 0];
  if (p === "same") {
    if (stride !== 1) fail("conv1d", "padding 'same' needs stride 1");
    return [Math.floor(span / 2), span - Math.floor(span / 2)];
  }
  if (typeof p === "number") return [p, p];
  return [p[0], p[1]];
}

/** x [B, Cin, L], weight [Cout, Cin/groups, K], bias [Cout] -> [B, Cout, Lout]. */
export function conv1d(x: TensorLike, weight: TensorLike, bias?: TensorLike | null, opts: Conv1dOptions = {}): Tensor {
  const t = asTensor("conv1d", "x", x);
  const w = asTensor("conv1d", "weight", weight);
  const b = bias == null ? null : asTensor("conv1d", "bias", bias);
  checkFloat("conv1d", "x", t);
  checkFloat("conv1d", "weight", w);
  const be = backendOf("conv1d", t, w, b);
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const groups = opts.groups ?? 1;
  if (t.rank !== 3) fail("conv1d", `x must be [B, Cin, L], got ${fmtShape(t.shape)}`);
  if (w.rank !== 3) fail("conv1d", `weight must be [Cout, Cin/groups, K], got ${fmtShape(w.shape)}`);
  const [B, Cin, L] = t.shape;
  const [Cout, CinG, K] = w.shape;
  for (const [n, v] of [
    ["stride", stride],
    ["dilation", dilation],
    ["groups", groups],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) fail("conv1d", `${n} must be a positive integer, got ${v}`);
  }
  if (Cin % groups !== 0 || Cout % groups !== 0) fail("conv1d", `channels in ${Cin} and out ${Cout} must be divisible by groups ${groups}`);
  if (CinG !== Cin / groups) fail("conv1d", `weight ${fmtShape(w.shape)} expects ${CinG * groups} input channels (groups ${groups}) but x ${fmtShape(t.shape)} has ${Cin}`);
  if (b && (b.rank !== 1 || b.shape[0] !== Cout)) fail("conv1d", `bias ${fmtShape(b.shape)} must be [${Cout}]`);
  if (t.dtype !== w.dtype || (b && b.dtype !== t.dtype)) fail("conv1d", `x ${t.dtype}, weight ${w.dtype}${b ? ` and bias ${b.dtype}` : ""} must share a dtype`);
  const [padLeft, padRight] = resolvePadding(opts.padding, K, dilation, stride);
  if (padLeft < 0 || padRight < 0 || !Number.isInteger(padLeft) || !Number.isInteger(padRight))
    fail("conv1d", `padding must be non-negative integers, got [${padLeft}, ${padRight}]`);
  const Lout = Math.floor((L + padLeft + padRight - dilation * (K - 1) - 1) / stride) + 1;
  if (Lout < 1) fail("conv1d", `input length ${L} with padding [${padLeft}, ${padRight}] is shorter than the kernel span ${dilation * (K - 1) + 1}`);
  const params = { stride, padLeft, padRight, dilation, groups };
  const y = wrap(be, be.conv1d(t.view(), w.view(), b?.view() ?? null, params), [B, Cout, Lout], t.dtype);
  return record("conv1d", b ? [t, w, b] : [t, w], y, (dy, ins) => {
    const [xi, wi] = ins;
    const CoutG = Cout / groups;
    // --- dx: transposed convolution ---
    // Upsample dy by the stride: [B, Cout, (Lout-1)*s + 1] with s-1 zeros between samples.
    let up = dy;
    if (stride > 1) {
      const z = zeros([B, Cout, Lout, stride - 1], { dtype: dy.dtype, backend: dy.backend });
      up = narrow(reshape(concat([reshape(dy, [B, Cout, Lout, 1]), z], 3), [B, Cout, Lout * stride]), 2, 0, (Lout - 1) * stride + 1);
    }
    // w [g*CoutG, CinG, K] -> w' [g*CinG, CoutG, K], flipped along k.
    const wt = flip(reshape(permute(reshape(wi, [groups, CoutG, CinG, K]), [0, 2, 1, 3]), [Cin, CoutG, K]), 2);
    const left = (K - 1) * dilation - padLeft;
    const right = L - up.shape[2] - left + (K - 1) * dilation;
    // Negative padding means cropping.
    const cropped = slice(up, [null, null, [Math.max(-left, 0), up.shape[2] - Math.max(-right, 0)]]);
    const padded = pad(cropped, [[Math.max(left, 0), Math.max(right, 0)]]);
    const dx = conv1d(padded, wt, null, { dilation, groups });
    // --- dw: unfold x into [B, Cin, K, Lout] and contract with dy over (b, t) ---
    const xp = pad(xi, [[padLeft, padRight]]);
    const cols = stack(
      Array.from({ length: K }, (_, k) => slice(xp, [null, null, [k * dilation, k * dilation + (Lout - 1) * stride + 1, stride]])),
      2,
    );
    const dyg = reshape(permute(reshape(dy, [B, groups, CoutG, Lout]), [1, 2, 0, 3]), [groups, CoutG, B * Lout]);
    const colg = reshape(permute(reshape(cols, [B, groups, CinG, K, Lout]), [1, 0, 4, 2, 3]), [groups, B * Lout, CinG * K]);
    const dw = reshape(matmul(dyg, colg), [Cout, CinG, K]);
    const grads: Tensor[] = [dx, dw];
    if (ins.length === 3) grads.push(sum(dy, [0, 2]));
    return grads.map((g, i) => (g.dtype === ins[i].dtype ? g : cast(g, ins[i].dtype)));
  });
}

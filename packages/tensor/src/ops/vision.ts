/**
 * Vision primitives on [N, C, H, W] tensors with PyTorch's semantics: conv2d, convTranspose2d,
 * upsample (nearest, bilinear), avgPool2d, maxPool2d, groupNorm, batchNorm, pixelShuffle /
 * pixelUnshuffle, unfold / fold.
 *
 * Every op is a composition of existing ops, so it runs on every backend and its gradient comes
 * from theirs. The sliding-window index map (which input cell every kernel tap of every output
 * position reads) is computed on the host:
 *   unfold (im2col)  = pad + indexSelect(flat plane, index map)
 *   fold (col2im)    = scatterAdd(zeros, index map, cols) + crop
 *   conv2d           = unfold + matmul (groups as a batch axis of the matmul)
 *   convTranspose2d  = matmul + fold
 *   avgPool2d        = unfold + sum / (host-computed divisors)
 *   maxPool2d        = unfold (padded with -inf) + argmax + gather (gradient to the first max, as PyTorch)
 *   upsample         = indexSelect along H then W (bilinear: two taps with host-computed weights)
 *   groupNorm / batchNorm = mean / variance ops; pixel(Un)Shuffle = reshape + permute.
 */
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import { withoutRecording } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { zeros } from "./creation";
import { add, div, mul, rsqrt, square, sub } from "./elementwise";
import { gather, indexSelect, scatterAdd } from "./indexing";
import { assign } from "./inplace";
import { pad } from "./join";
import { matmul } from "./matmul";
import { argmax, mean, sum } from "./reduce";
import { asTensor, backendOf, checkFloat, fromValues, type TensorLike } from "./util";
import { expand, permute, reshape, slice, transpose } from "./view";

export type Size2 = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Size2;
  /** Zero padding: both sides of each axis (number or [ph, pw]), 'valid' (0) or 'same' (stride 1; an odd total puts the extra row/column bottom/right, as PyTorch). */
  padding?: Size2 | "same" | "valid";
  dilation?: Size2;
  groups?: number;
}

export interface ConvTranspose2dOptions {
  stride?: Size2;
  padding?: Size2;
  /** Extra rows/columns on the bottom/right of the output; each must be smaller than the stride or the dilation. */
  outputPadding?: Size2;
  dilation?: Size2;
  groups?: number;
}

export interface UnfoldOptions {
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
}

export interface UpsampleOptions {
  /** Output size = floor(input size * scaleFactor); the source coordinates use 1 / scaleFactor, as PyTorch. */
  scaleFactor?: Size2;
  size?: Size2;
  mode?: "nearest" | "bilinear";
  /** bilinear only (default false). */
  alignCorners?: boolean;
}

export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  padding?: Size2;
  countIncludePad?: boolean;
  ceilMode?: boolean;
}

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
  ceilMode?: boolean;
  returnIndices?: boolean;
}

export interface BatchNormOptions {
  /** Batch statistics (and running-stat updates) when true; the running statistics when false (default, as F.batch_norm). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

// --- argument helpers ---

function pair(op: string, name: string, v: Size2 | undefined, def: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [def, def] : typeof v === "number" ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((n) => Number.isInteger(n) && n >= min)) {
    fail(op, `${name} must be ${min > 0 ? "a positive" : "a non-negative"} integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

function image(op: string, arg: string, x: TensorLike): Tensor {
  const t = asTensor(op, arg, x);
  if (t.rank !== 4) fail(op, `${arg} must be [N, C, H, W], got ${fmtShape(t.shape)}`);
  return t;
}

function outLen(inp: number, before: number, after: number, k: number, s: number, d: number): number {
  return Math.floor((inp + before + after - d * (k - 1) - 1) / s) + 1;
}

/** PyTorch's pooling_output_shape (ceil mode drops a last window that would start in the right padding). */
function poolLen(inp: number, p: number, k: number, s: number, d: number, ceil: boolean): number {
  const span = inp + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  let o = Math.floor(span / s) + 1;
  if (ceil && (o - 1) * s >= inp + p) o--;
  return o;
}

/**
 * The flat position in an Hp x Wp plane that kernel tap k = ki*kw + kj reads for output
 * l = oh*OW + ow, laid out [K * L] (tap-major): what unfold gathers and fold scatters.
 */
function windowIndex(Wp: number, kh: number, kw: number, OH: number, OW: number, sh: number, sw: number, dh: number, dw: number): Int32Array {
  const L = OH * OW;
  const idx = new Int32Array(kh * kw * L);
  for (let ki = 0; ki < kh; ki++) {
    for (let kj = 0; kj < kw; kj++) {
      const base = (ki * kw + kj) * L;
      for (let oh = 0; oh < OH; oh++) {
        const row = (oh * sh + ki * dh) * Wp + kj * dw;
        for (let ow = 0; ow < OW; ow++) idx[base + oh * OW + ow] = row + ow * sw;
      }
    }
  }
  return idx;
}

const intTensor = (t: Tensor, v: Int32Array, shape: number[]): Tensor => fromValues(v, shape, "int32", t.storage.backend);
const floatTensor = (t: Tensor, v: ArrayLike<number>, shape: number[]): Tensor => fromValues(v, shape, t.dtype, t.storage.backend);

/** xp [N, C, Hp, Wp] -> [N, C, K, L]: the windows of a (padded) plane. */
function gatherWindows(xp: Tensor, idx: Int32Array, K: number, L: number): Tensor {
  const [N, C, Hp, Wp] = xp.shape;
  return reshape(indexSelect(reshape(xp, [N, C, Hp * Wp]), 2, intTensor(xp, idx, [K * L])), [N, C, K, L]);
}

/** cols [N, C, K, L] -> [N, C, Hp, Wp]: every window summed back into the plane. */
function scatterWindows(cols: Tensor, idx: Int32Array, Hp: number, Wp: number): Tensor {
  const [N, C, K, L] = cols.shape;
  const index = expand(reshape(intTensor(cols, idx, [K * L]), [1, 1, K * L]), [N, C, K * L]);
  const base = zeros([N, C, Hp * Wp], { dtype: cols.dtype, backend: cols.backend });
  return reshape(scatterAdd(base, 2, index, reshape(cols, [N, C, K * L])), [N, C, Hp, Wp]);
}

function padPlane(x: Tensor, top: number, bottom: number, left: number, right: number, value = 0): Tensor {
  return top || bottom || left || right
    ? pad(
        x,
        [
          [top, bottom],
          [left, right],
        ],
        value,
      )
    : x;
}

// --- unfold / fold ---

/** im2col as torch.nn.functional.unfold: x [N, C, H, W] -> [N, C*kh*kw, L] (channel-major, then kernel row, kernel column). */
export function unfold(x: TensorLike, kernel: Size2, opts: UnfoldOptions = {}): Tensor {
  const t = image("unfold", "x", x);
  const [kh, kw] = pair("unfold", "kernel", kernel, 1, 1);
  const [sh, sw] = pair("unfold", "stride", opts.stride, 1, 1);
  const [ph, pw] = pair("unfold", "padding", opts.padding, 0, 0);
  const [dh, dw] = pair("unfold", "dilation", opts.dilation, 1, 1);
  const [N, C, H, W] = t.shape;
  const OH = outLen(H, ph, ph, kh, sh, dh);
  const OW = outLen(W, pw, pw, kw, sw, dw);
  if (OH < 1 || OW < 1) fail("unfold", `x ${fmtShape(t.shape)} with padding [${ph}, ${pw}] is smaller than the kernel span [${dh * (kh - 1) + 1}, ${dw * (kw - 1) + 1}]`);
  return tidy(() => {
    const xp = padPlane(t, ph, ph, pw, pw);
    const cols = gatherWindows(xp, windowIndex(W + 2 * pw, kh, kw, OH, OW, sh, sw, dh, dw), kh * kw, OH * OW);
    return reshape(cols, [N, C * kh * kw, OH * OW]);
  });
}

/** col2im as torch.nn.functional.fold: cols [N, C*kh*kw, L] -> [N, C, H, W], overlapping windows summed. */
export function fold(cols: TensorLike, outputSize: Size2, kernel: Size2, opts: UnfoldOptions = {}): Tensor {
  const t = asTensor("fold", "cols", cols);
  if (t.rank !== 3) fail("fold", `cols must be [N, C*kh*kw, L], got ${fmtShape(t.shape)}`);
  const [H, W] = pair("fold", "outputSize", outputSize, 1, 1);
  const [kh, kw] = pair("fold", "kernel", kernel, 1, 1);
  const [sh, sw] = pair("fold", "stride", opts.stride, 1, 1);
  const [ph, pw] = pair("fold", "padding", opts.padding, 0, 0);
  const [dh, dw] = pair("fold", "dilation", opts.dilation, 1, 1);
  const [N, CK, L] = t.shape;
  const K = kh * kw;
  if (CK % K !== 0) fail("fold", `cols ${fmtShape(t.shape)}: axis 1 (${CK}) must be a multiple of the kernel size ${kh}*${kw} = ${K}`);
  const OH = outLen(H, ph, ph, kh, sh, dh);
  const OW = outLen(W, pw, pw, kw, sw, dw);
  if (OH < 1 || OW < 1 || OH * OW !== L) {
    fail(
      "fold",
      `cols ${fmtShape(t.shape)} has ${L} blocks but outputSize [${H}, ${W}] with kernel [${kh}, ${kw}], padding [${ph}, ${pw}], stride [${sh}, ${sw}] and dilation [${dh}, ${dw}] gives ${Math.max(OH, 0)}*${Math.max(OW, 0)} = ${Math.max(OH, 0) * Math.max(OW, 0)}`,
    );
  }
  const C = CK / K;
  return tidy(() => {
    const Hp = H + 2 * ph;
    const Wp = W + 2 * pw;
    const plane = scatterWindows(reshape(t, [N, C, K, L]), windowIndex(Wp, kh, kw, OH, OW, sh, sw, dh, dw), Hp, Wp);
    return ph || pw ? slice(plane, [null, null, [ph, ph + H], [pw, pw + W]]) : plane;
  });
}

// --- convolutions ---

function convArgs(op: string, x: TensorLike, weight: TensorLike, bias: TensorLike | null | undefined): [Tensor, Tensor, Tensor | null] {
  const t = image(op, "x", x);
  const w = asTensor(op, "weight", weight);
  const b = bias == null ? null : asTensor(op, "bias", bias);
  checkFloat(op, "x", t);
  checkFloat(op, "weight", w);
  backendOf(op, t, w, b);
  if (w.rank !== 4) fail(op, `weight must be ${op === "conv2d" ? "[O, C/groups, kh, kw]" : "[C, O/groups, kh, kw]"}, got ${fmtShape(w.shape)}`);
  if (t.dtype !== w.dtype || (b && b.dtype !== t.dtype)) fail(op, `x ${t.dtype}, weight ${w.dtype}${b ? ` and bias ${b.dtype}` : ""} must share a dtype`);
  return [t, w, b];
}

function addBias(y: Tensor, b: Tensor | null): Tensor {
  return b ? add(y, reshape(b, [1, b.shape[0], 1, 1])) : y;
}

/**
 * 2-D convolution (cross-correlation) as torch.nn.functional.conv2d:
 * x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] -> [N, O, OH, OW].
 */
export function conv2d(x: TensorLike, weight: TensorLike, bias?: TensorLike | null, opts: Conv2dOptions = {}): Tensor {
  const [t, w, b] = convArgs("conv2d", x, weight, bias);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) fail("conv2d", `groups must be a positive integer, got ${groups}`);
  const [sh, sw] = pair("conv2d", "stride", opts.stride, 1, 1);
  const [dh, dw] = pair("conv2d", "dilation", opts.dilation, 1, 1);
  const [N, C, H, W] = t.shape;
  const [O, Cg, kh, kw] = w.shape;
  if (Cg * groups !== C) fail("conv2d", `x ${fmtShape(t.shape)} has ${C} channels but weight ${fmtShape(w.shape)} with groups ${groups} expects ${Cg * groups}`);
  if (O % groups !== 0) fail("conv2d", `weight ${fmtShape(w.shape)} has ${O} output channels, not divisible by groups ${groups}`);
  if (b && (b.rank !== 1 || b.shape[0] !== O)) fail("conv2d", `bias ${fmtShape(b.shape)} must be [${O}] for weight ${fmtShape(w.shape)}`);
  let pt: number, pb: number, pl: number, pr: number;
  if (opts.padding === "same") {
    if (sh !== 1 || sw !== 1) fail("conv2d", `padding 'same' needs stride 1, got [${sh}, ${sw}]`);
    const th = dh * (kh - 1);
    const tw = dw * (kw - 1);
    [pt, pb, pl, pr] = [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  } else {
    const [ph, pw] = opts.padding === "valid" ? [0, 0] : pair("conv2d", "padding", opts.padding, 0, 0);
    [pt, pb, pl, pr] = [ph, ph, pw, pw];
  }
  const OH = outLen(H, pt, pb, kh, sh, dh);
  const OW = outLen(W, pl, pr, kw, sw, dw);
  if (OH < 1 || OW < 1)
    fail(
      "conv2d",
      `x ${fmtShape(t.shape)} with padding [${pt}, ${pb}, ${pl}, ${pr}] is smaller than the kernel span [${dh * (kh - 1) + 1}, ${dw * (kw - 1) + 1}] of weight ${fmtShape(w.shape)}`,
    );
  const K = kh * kw;
  const L = OH * OW;
  return tidy(() => {
    const xp = padPlane(t, pt, pb, pl, pr);
    const cols = reshape(gatherWindows(xp, windowIndex(W + pl + pr, kh, kw, OH, OW, sh, sw, dh, dw), K, L), [N, groups, Cg * K, L]);
    const y = matmul(reshape(w, [groups, O / groups, Cg * K]), cols); // [N, groups, O/groups, L]
    return addBias(reshape(y, [N, O, OH, OW]), b);
  });
}

/**
 * Transposed 2-D convolution as torch.nn.functional.conv_transpose2d:
 * x [N, C, H, W], weight [C, O/groups, kh, kw], bias [O] -> [N, O, OH, OW] with
 * OH = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + outputPadding + 1.
 */
export function convTranspose2d(x: TensorLike, weight: TensorLike, bias?: TensorLike | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = "convTranspose2d";
  const [t, w, b] = convArgs(op, x, weight, bias);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) fail(op, `groups must be a positive integer, got ${groups}`);
  const [sh, sw] = pair(op, "stride", opts.stride, 1, 1);
  const [ph, pw] = pair(op, "padding", opts.padding, 0, 0);
  const [oph, opw] = pair(op, "outputPadding", opts.outputPadding, 0, 0);
  const [dh, dw] = pair(op, "dilation", opts.dilation, 1, 1);
  const [N, C, H, W] = t.shape;
  const [Cw, Og, kh, kw] = w.shape;
  if (Cw !== C) fail(op, `x ${fmtShape(t.shape)} has ${C} channels but weight ${fmtShape(w.shape)} expects ${Cw} (weight is [C, O/groups, kh, kw])`);
  if (C % groups !== 0) fail(op, `x ${fmtShape(t.shape)} has ${C} channels, not divisible by groups ${groups}`);
  const O = Og * groups;
  if (b && (b.rank !== 1 || b.shape[0] !== O)) fail(op, `bias ${fmtShape(b.shape)} must be [${O}] for weight ${fmtShape(w.shape)} with groups ${groups}`);
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    fail(op, `outputPadding [${oph}, ${opw}] must be smaller than the stride [${sh}, ${sw}] or the dilation [${dh}, ${dw}]`);
  }
  // The full (uncropped) output plane; the result is its window [ph, ph + OH) x [pw, pw + OW).
  const Hp = (H - 1) * sh + dh * (kh - 1) + 1 + oph;
  const Wp = (W - 1) * sw + dw * (kw - 1) + 1 + opw;
  const OH = Hp - 2 * ph;
  const OW = Wp - 2 * pw;
  if (OH < 1 || OW < 1) fail(op, `x ${fmtShape(t.shape)} with weight ${fmtShape(w.shape)} gives an empty output [${OH}, ${OW}] (padding [${ph}, ${pw}] is too large)`);
  const Cg = C / groups;
  const K = kh * kw;
  return tidy(() => {
    const wm = transpose(reshape(w, [groups, Cg, Og * K]), 1, 2); // [groups, Og*K, Cg]
    const cols = matmul(wm, reshape(t, [N, groups, Cg, H * W])); // [N, groups, Og*K, H*W]
    const plane = scatterWindows(reshape(cols, [N, O, K, H * W]), windowIndex(Wp, kh, kw, H, W, sh, sw, dh, dw), Hp, Wp);
    const y = ph || pw || OH !== Hp || OW !== Wp ? slice(plane, [null, null, [ph, ph + OH], [pw, pw + OW]]) : plane;
    return addBias(y, b);
  });
}

// --- upsampling ---

/** Source rows and weights for one axis, computed in float32 as PyTorch's CPU kernels. */
function nearestIndex(inp: number, out: number, scale: number | null): Int32Array {
  const idx = new Int32Array(out);
  const s = Math.fround(scale !== null ? 1 / scale : inp / out);
  for (let i = 0; i < out; i++) {
    if (out === inp) idx[i] = i;
    else if (out === 2 * inp) idx[i] = i >> 1;
    else idx[i] = Math.min(Math.floor(Math.fround(i * s)), inp - 1);
  }
  return idx;
}

function bilinearTaps(inp: number, out: number, scale: number | null, alignCorners: boolean): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const i0 = new Int32Array(out);
  const i1 = new Int32Array(out);
  const w0 = new Float32Array(out);
  const w1 = new Float32Array(out);
  const s = alignCorners ? (out > 1 ? Math.fround((inp - 1) / (out - 1)) : 0) : Math.fround(scale !== null ? 1 / scale : inp / out);
  for (let i = 0; i < out; i++) {
    let src = alignCorners ? Math.fround(s * i) : Math.fround(s * (i + 0.5) - 0.5);
    if (!alignCorners && src < 0) src = 0;
    const a = Math.floor(src);
    i0[i] = a;
    i1[i] = a + (a < inp - 1 ? 1 : 0);
    w1[i] = Math.fround(src - a);
    w0[i] = Math.fround(1 - w1[i]);
  }
  return { i0, i1, w0, w1 };
}

/**
 * Resizes [N, C, H, W] as torch.nn.functional.interpolate: mode 'nearest' (source index
 * floor(dst * in / out)) or 'bilinear' (alignCorners true or false, negative source
 * coordinates clamped to 0). Give exactly one of `size` and `scaleFactor`.
 */
export function upsample(x: TensorLike, opts: UpsampleOptions): Tensor {
  const op = "upsample";
  const t = image(op, "x", x);
  checkFloat(op, "x", t);
  const mode = opts.mode ?? "nearest";
  if (mode !== "nearest" && mode !== "bilinear") fail(op, `mode must be 'nearest' or 'bilinear', got '${String(mode)}'`);
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) fail(op, "give exactly one of size and scaleFactor");
  if (mode === "nearest" && opts.alignCorners !== undefined) fail(op, "alignCorners only applies to mode 'bilinear'");
  const [, , H, W] = t.shape;
  let OH: number, OW: number;
  let scales: [number | null, number | null] = [null, null];
  if (opts.size !== undefined) {
    [OH, OW] = pair(op, "size", opts.size, 1, 1);
  } else {
    const sf = typeof opts.scaleFactor === "number" ? [opts.scaleFactor, opts.scaleFactor] : opts.scaleFactor!;
    if (!Array.isArray(sf) || sf.length !== 2 || !sf.every((v) => typeof v === "number" && v > 0 && Number.isFinite(v)))
      fail(op, `scaleFactor must be a positive number or a pair of them, got ${JSON.stringify(opts.scaleFactor)}`);
    scales = [sf[0], sf[1]];
    [OH, OW] = [Math.floor(H * sf[0]), Math.floor(W * sf[1])];
    if (OH < 1 || OW < 1) fail(op, `scaleFactor ${JSON.stringify(opts.scaleFactor)} makes x ${fmtShape(t.shape)} empty ([${OH}, ${OW}])`);
  }
  return tidy(() => {
    if (mode === "nearest") {
      const rows = indexSelect(t, 2, intTensor(t, nearestIndex(H, OH, scales[0]), [OH]));
      return indexSelect(rows, 3, intTensor(t, nearestIndex(W, OW, scales[1]), [OW]));
    }
    const ac = opts.alignCorners ?? false;
    const th = bilinearTaps(H, OH, scales[0], ac);
    const tw = bilinearTaps(W, OW, scales[1], ac);
    const lerp = (v: Tensor, axis: number, taps: typeof th, shape: number[]) =>
      add(
        mul(indexSelect(v, axis, intTensor(t, taps.i0, [taps.i0.length])), floatTensor(t, taps.w0, shape)),
        mul(indexSelect(v, axis, intTensor(t, taps.i1, [taps.i1.length])), floatTensor(t, taps.w1, shape)),
      );
    const rows = lerp(t, 2, th, [OH, 1]);
    return lerp(rows, 3, tw, [OW]);
  });
}

// --- pooling ---

function poolGeometry(op: string, t: Tensor, kernel: Size2, o: { stride?: Size2; padding?: Size2; dilation?: Size2; ceilMode?: boolean }) {
  const [kh, kw] = pair(op, "kernel", kernel, 1, 1);
  const [sh, sw] = o.stride === undefined ? [kh, kw] : pair(op, "stride", o.stride, 1, 1);
  const [ph, pw] = pair(op, "padding", o.padding, 0, 0);
  const [dh, dw] = pair(op, "dilation", o.dilation, 1, 1);
  if (ph > Math.floor(kh / 2) || pw > Math.floor(kw / 2)) fail(op, `padding [${ph}, ${pw}] must be at most half the kernel [${kh}, ${kw}]`);
  const [, , H, W] = t.shape;
  const ceil = o.ceilMode ?? false;
  const OH = poolLen(H, ph, kh, sh, dh, ceil);
  const OW = poolLen(W, pw, kw, sw, dw, ceil);
  if (OH < 1 || OW < 1) fail(op, `x ${fmtShape(t.shape)} with padding [${ph}, ${pw}] is smaller than the kernel span [${dh * (kh - 1) + 1}, ${dw * (kw - 1) + 1}]`);
  // Ceil mode can let the last window run past the right padding: pad the plane that far.
  const Hp = Math.max(H + 2 * ph, (OH - 1) * sh + dh * (kh - 1) + 1);
  const Wp = Math.max(W + 2 * pw, (OW - 1) * sw + dw * (kw - 1) + 1);
  return { kh, kw, sh, sw, ph, pw, dh, dw, H, W, OH, OW, Hp, Wp };
}

/** Average pooling as torch.nn.functional.avg_pool2d (countIncludePad counts zero padding, never the ceil-mode overhang). */
export function avgPool2d(x: TensorLike, kernel: Size2, opts: AvgPool2dOptions = {}): Tensor {
  const op = "avgPool2d";
  const t = image(op, "x", x);
  checkFloat(op, "x", t);
  const g = poolGeometry(op, t, kernel, opts);
  const inc = opts.countIncludePad ?? true;
  const div1 = new Float32Array(g.OH * g.OW);
  for (let oh = 0; oh < g.OH; oh++) {
    for (let ow = 0; ow < g.OW; ow++) {
      let hs = oh * g.sh - g.ph;
      let ws = ow * g.sw - g.pw;
      let he = Math.min(hs + g.kh, g.H + g.ph);
      let we = Math.min(ws + g.kw, g.W + g.pw);
      const full = (he - hs) * (we - ws);
      hs = Math.max(hs, 0);
      ws = Math.max(ws, 0);
      he = Math.min(he, g.H);
      we = Math.min(we, g.W);
      div1[oh * g.OW + ow] = inc ? full : (he - hs) * (we - ws);
    }
  }
  const [N, C] = t.shape;
  return tidy(() => {
    const xp = padPlane(t, g.ph, g.Hp - g.H - g.ph, g.pw, g.Wp - g.W - g.pw);
    const cols = gatherWindows(xp, windowIndex(g.Wp, g.kh, g.kw, g.OH, g.OW, g.sh, g.sw, 1, 1), g.kh * g.kw, g.OH * g.OW);
    return reshape(div(sum(cols, 2), floatTensor(t, div1, [g.OH * g.OW])), [N, C, g.OH, g.OW]);
  });
}

/**
 * Max pooling as torch.nn.functional.max_pool2d (padding counts as -inf). With `returnIndices`,
 * also the position of each maximum as a flat index into the H*W input plane (int32). The
 * gradient goes to the first maximum of each window, as PyTorch's.
 */
export function maxPool2d(x: TensorLike, kernel: Size2, opts: MaxPool2dOptions & { returnIndices: true }): { values: Tensor; indices: Tensor };
export function maxPool2d(x: TensorLike, kernel: Size2, opts?: MaxPool2dOptions & { returnIndices?: false }): Tensor;
export function maxPool2d(x: TensorLike, kernel: Size2, opts?: MaxPool2dOptions): Tensor | { values: Tensor; indices: Tensor };
export function maxPool2d(x: TensorLike, kernel: Size2, opts: MaxPool2dOptions = {}): Tensor | { values: Tensor; indices: Tensor } {
  const op = "maxPool2d";
  const t = image(op, "x", x);
  checkFloat(op, "x", t);
  const g = poolGeometry(op, t, kernel, opts);
  const [N, C] = t.shape;
  const K = g.kh * g.kw;
  const L = g.OH * g.OW;
  const res = tidy(() => {
    const xp = padPlane(t, g.ph, g.Hp - g.H - g.ph, g.pw, g.Wp - g.W - g.pw, -Infinity);
    const cols = gatherWindows(xp, windowIndex(g.Wp, g.kh, g.kw, g.OH, g.OW, g.sh, g.sw, g.dh, g.dw), K, L);
    const am = argmax(cols, 2, { keepdims: true }); // [N, C, 1, L]
    const values = reshape(gather(cols, 2, am), [N, C, g.OH, g.OW]);
    if (!opts.returnIndices) return [values];
    // The input-plane position of every tap of every window (-1 in the padding, never a maximum).
    const pos = new Int32Array(K * L);
    for (let ki = 0; ki < g.kh; ki++) {
      for (let kj = 0; kj < g.kw; kj++) {
        for (let oh = 0; oh < g.OH; oh++) {
          for (let ow = 0; ow < g.OW; ow++) {
            const ih = oh * g.sh + ki * g.dh - g.ph;
            const iw = ow * g.sw + kj * g.dw - g.pw;
            pos[(ki * g.kw + kj) * L + oh * g.OW + ow] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? ih * g.W + iw : -1;
          }
        }
      }
    }
    const table = expand(reshape(intTensor(t, pos, [K, L]), [1, 1, K, L]), [N, C, K, L]);
    return [values, reshape(gather(table, 2, am), [N, C, g.OH, g.OW])];
  });
  return opts.returnIndices ? { values: res[0], indices: res[1] } : res[0];
}

// --- normalization ---

function affine(op: string, y: Tensor, C: number, w: Tensor | null, b: Tensor | null): Tensor {
  const shape = [1, C, ...y.shape.slice(2).map(() => 1)];
  if (w) y = mul(y, reshape(w, shape));
  if (b) y = add(y, reshape(b, shape));
  return y;
}

function channelParam(op: string, arg: string, v: TensorLike | null | undefined, x: Tensor): Tensor | null {
  if (v == null) return null;
  const p = asTensor(op, arg, v, x);
  backendOf(op, x, p);
  if (p.rank !== 1 || p.shape[0] !== x.shape[1]) fail(op, `${arg} ${fmtShape(p.shape)} must be [${x.shape[1]}] for the ${x.shape[1]} channels of x ${fmtShape(x.shape)}`);
  return p;
}

/** GroupNorm (Wu & He 2018) as torch.nn.functional.group_norm: x [N, C, ...] normalized over each group of C/numGroups channels and all spatial positions (biased variance). */
export function groupNorm(x: TensorLike, numGroups: number, weight?: TensorLike | null, bias?: TensorLike | null, eps = 1e-5): Tensor {
  const op = "groupNorm";
  const t = asTensor(op, "x", x);
  checkFloat(op, "x", t);
  if (t.rank < 2) fail(op, `x must be [N, C, ...], got ${fmtShape(t.shape)}`);
  const C = t.shape[1];
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) fail(op, `x ${fmtShape(t.shape)} has ${C} channels, not divisible into numGroups ${numGroups}`);
  const w = channelParam(op, "weight", weight, t);
  const b = channelParam(op, "bias", bias, t);
  return tidy(() => {
    const xg = reshape(t, [t.shape[0], numGroups, -1]);
    const xc = sub(xg, mean(xg, 2, { keepdims: true }));
    const y = mul(xc, rsqrt(add(mean(square(xc), 2, { keepdims: true }), eps)));
    return affine(op, reshape(y, t.shape), C, w, b);
  });
}

/**
 * BatchNorm (Ioffe & Szegedy 2015) as torch.nn.functional.batch_norm over x [N, C, ...].
 * Training: normalizes with the batch statistics (biased variance) and, where running stats are
 * given, updates them in place: mean <- (1 - momentum) mean + momentum batch_mean, var likewise
 * with the unbiased batch variance. Eval: normalizes with the running statistics.
 */
export function batchNorm(
  x: TensorLike,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: TensorLike | null,
  bias?: TensorLike | null,
  opts: BatchNormOptions = {},
): Tensor {
  return batchNormImpl(x, runningMean, runningVar, weight, bias, opts.training ?? false, opts.momentum ?? 0.1, opts.eps ?? 1e-5);
}

/** batchNorm with the momentum as a number or a (scalar) tensor: BatchNorm2d's cumulative average uses 1 / num_batches_tracked. */
export function batchNormImpl(
  x: TensorLike,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: TensorLike | null | undefined,
  bias: TensorLike | null | undefined,
  training: boolean,
  momentum: number | Tensor,
  eps: number,
): Tensor {
  const op = "batchNorm";
  const t = asTensor(op, "x", x);
  checkFloat(op, "x", t);
  if (t.rank < 2) fail(op, `x must be [N, C, ...], got ${fmtShape(t.shape)}`);
  const C = t.shape[1];
  const rm = channelParam(op, "runningMean", runningMean, t);
  const rv = channelParam(op, "runningVar", runningVar, t);
  const w = channelParam(op, "weight", weight, t);
  const b = channelParam(op, "bias", bias, t);
  const axes = t.shape.map((_, i) => i).filter((i) => i !== 1);
  const bshape = [1, C, ...t.shape.slice(2).map(() => 1)];
  if (!training) {
    if (!rm || !rv) fail(op, "eval mode (training false) needs runningMean and runningVar");
    return tidy(() => affine(op, mul(sub(t, reshape(rm, bshape)), rsqrt(add(reshape(rv, bshape), eps))), C, w, b));
  }
  const n = t.size / C;
  if (n <= 1) fail(op, `expected more than 1 value per channel when training, got x ${fmtShape(t.shape)}`);
  if ((rm === null) !== (rv === null)) fail(op, "give both runningMean and runningVar, or neither");
  return tidy(() => {
    const mu = mean(t, axes, { keepdims: true });
    const xc = sub(t, mu);
    const v = mean(square(xc), axes, { keepdims: true });
    if (rm && rv) {
      withoutRecording(() =>
        tidy(() => {
          const m = typeof momentum === "number" ? momentum : cast(momentum, rm.dtype);
          const keep = sub(1, m);
          assign(rm, add(mul(rm, keep), mul(reshape(mu, [C]), m)));
          assign(rv, add(mul(rv, keep), mul(reshape(v, [C]), mul(m, n / (n - 1)))));
        }),
      );
    }
    return affine(op, mul(xc, rsqrt(add(v, eps))), C, w, b);
  });
}

// --- rearrangements ---

/** [..., C*r*r, H, W] -> [..., C, H*r, W*r] as torch.nn.functional.pixel_shuffle. */
export function pixelShuffle(x: TensorLike, r: number): Tensor {
  const t = asTensor("pixelShuffle", "x", x);
  if (!Number.isInteger(r) || r < 1) fail("pixelShuffle", `upscaleFactor must be a positive integer, got ${r}`);
  if (t.rank < 3) fail("pixelShuffle", `x must be [..., C*r*r, H, W], got ${fmtShape(t.shape)}`);
  const lead = t.shape.slice(0, -3);
  const [Cr, H, W] = t.shape.slice(-3);
  if (Cr % (r * r) !== 0) fail("pixelShuffle", `x ${fmtShape(t.shape)} has ${Cr} channels, not divisible by upscaleFactor^2 = ${r * r}`);
  const C = Cr / (r * r);
  const k = lead.length;
  return tidy(() => {
    const v = reshape(t, [...lead, C, r, r, H, W]);
    const p = permute(v, [...lead.map((_, i) => i), k, k + 3, k + 1, k + 4, k + 2]);
    return reshape(p, [...lead, C, H * r, W * r]);
  });
}

/** [..., C, H*r, W*r] -> [..., C*r*r, H, W] as torch.nn.functional.pixel_unshuffle. */
export function pixelUnshuffle(x: TensorLike, r: number): Tensor {
  const t = asTensor("pixelUnshuffle", "x", x);
  if (!Number.isInteger(r) || r < 1) fail("pixelUnshuffle", `downscaleFactor must be a positive integer, got ${r}`);
  if (t.rank < 3) fail("pixelUnshuffle", `x must be [..., C, H, W], got ${fmtShape(t.shape)}`);
  const lead = t.shape.slice(0, -3);
  const [C, Hr, Wr] = t.shape.slice(-3);
  if (Hr % r !== 0 || Wr % r !== 0) fail("pixelUnshuffle", `x ${fmtShape(t.shape)}: height ${Hr} and width ${Wr} must be divisible by downscaleFactor ${r}`);
  const [H, W] = [Hr / r, Wr / r];
  const k = lead.length;
  return tidy(() => {
    const v = reshape(t, [...lead, C, H, r, W, r]);
    const p = permute(v, [...lead.map((_, i) => i), k, k + 2, k + 4, k + 1, k + 3]);
    return reshape(p, [...lead, C * r * r, H, W]);
  });
}

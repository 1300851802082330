/**
 * Float matrix products with few rows (M <= 4: decoding, `x @ W^T` for one token) on WebGPU.
 * The 64x64 tiled kernel would use one row in 64 of each tile and launch only N/64
 * workgroups; here each 256-invocation workgroup owns a few outputs and splits K among its
 * invocations, so every workgroup streams its part of B exactly once and there are N/8 of them.
 *
 * Two layouts of B [K, N], chosen from its strides so global reads coalesce:
 * - "rows" (k-stride 1: the transposed weight of `linear`): 32 invocations per output n, lanes
 *   walk k (neighbouring lanes read neighbouring k of one weight row); 8 outputs a workgroup.
 * - "cols" (row-major B): 64 outputs a workgroup, neighbouring invocations take neighbouring n,
 *   4 slices of k each.
 * Partial sums meet in workgroup memory (a tree per output). Packed halves are read in place.
 */
import { isHalf, type DType } from "../../../core/dtype";
import { WG, type GpuContext, type GpuData } from "../context";
import { offsetFn, shader, store, wordOf } from "../wgsl";
import type { GpuView } from "./elementwise";
import { HALF_FNS, packedLoadFn } from "./half";

/** Float products with at most this many rows take this kernel. */
export const GEMV_MAX_ROWS = 4;

/** Whether gemv takes this product (float operands, few rows, N within one grid dimension). */
export function gemvFits(a: GpuView, M: number, N: number): boolean {
  return wordOf(a.dtype) === "f32" && M <= GEMV_MAX_ROWS && Math.ceil(N / 8) <= 65535;
}

/** `batchPrm`: [batch dims, a batch strides, a offset, b batch strides, b offset] over `br` merged dims. */
export function gemv(ctx: GpuContext, a: GpuView, b: GpuView, outDtype: DType, batch: number, batchPrm: number[], br: number): GpuData {
  const r = a.shape.length;
  const [M, K, N] = [a.shape[r - 2], a.shape[r - 1], b.shape[r - 1]];
  const out = ctx.alloc(batch * M * N);
  const rowsLayout = b.strides[r - 2] === 1 && N > 1;
  const OUTS = rowsLayout ? 8 : 64;
  const SPLIT = WG / OUTS;
  const load = (name: string, v: GpuView): string => (isHalf(v.dtype) ? packedLoadFn(name, v.dtype) : `fn ld_${name}(e: u32) -> f32 { return ${name}[e]; }`);
  const word = (v: GpuView) => (isHalf(v.dtype) ? ("u32" as const) : wordOf(v.dtype));
  // [M, N, K, a row/col strides, b row/col strides, batch dims, a batch strides, a offset, b batch strides, b offset]
  const prm = [M, N, K, a.strides[r - 2], a.strides[r - 1], b.strides[r - 2], b.strides[r - 1], ...batchPrm];
  const code = shader({
    bindings: [
      { name: "out", word: wordOf(outDtype), write: true },
      { name: "as_", word: word(a) },
      { name: "bs_", word: word(b) },
    ],
    shared: `var<workgroup> red: array<f32, ${GEMV_MAX_ROWS * WG}>;`,
    fns: [HALF_FNS, load("as_", a), load("bs_", b), offsetFn("ab", br, "7u", `${7 + br}u`, `${7 + 2 * br}u`), offsetFn("bb", br, "7u", `${8 + 2 * br}u`, `${8 + 3 * br}u`)],
    body: `  let M = prm[0]; let N = prm[1]; let K = prm[2];
  let bi = wid.z;
  let aBase = off_ab(bi);
  let bBase = off_bb(bi);
  let nl = ${rowsLayout ? `lid / ${SPLIT}u` : `lid % ${OUTS}u`};
  let s = ${rowsLayout ? `lid % ${SPLIT}u` : `lid / ${OUTS}u`};
  let n = wid.x * ${OUTS}u + nl;
  var acc: array<f32, ${GEMV_MAX_ROWS}>;
  for (var m = 0u; m < ${GEMV_MAX_ROWS}u; m++) { acc[m] = 0.0; }
  if (n < N) {
    for (var k = s; k < K; k += ${SPLIT}u) {
      let w = ld_bs_(bBase + k * prm[5] + n * prm[6]);
      for (var m = 0u; m < M; m++) { acc[m] += ld_as_(aBase + m * prm[3] + k * prm[4]) * w; }
    }
  }
  // Tree over the ${SPLIT} partial sums of each output (indexed by output, then slice).
  for (var m = 0u; m < M; m++) { red[m * WG + nl * ${SPLIT}u + s] = acc[m]; }
  workgroupBarrier();
  for (var h = ${SPLIT / 2}u; h > 0u; h = h / 2u) {
    if (s < h) {
      for (var m = 0u; m < M; m++) { red[m * WG + nl * ${SPLIT}u + s] += red[m * WG + nl * ${SPLIT}u + s + h]; }
    }
    workgroupBarrier();
  }
  if (s == 0u && n < N) {
    for (var m = 0u; m < M; m++) { out[bi * M * N + m * N + n] = ${store(`red[m * WG + nl * ${SPLIT}u]`, outDtype)}; }
  }`,
  });
  ctx.dispatch(code, [out.buffer, a.data.buffer, b.data.buffer, ctx.meta(prm)], [Math.ceil(N / OUTS), 1, batch]);
  return out;
}

/**
 * Batched matmul on WebGPU: a [...batch, M, K] x b [...batch, K, N] from strided views (so
 * transposes are free). Each 256-invocation workgroup computes a 64x64 tile of C, staging
 * 16-wide K slices of A and B in workgroup memory; each invocation accumulates a 4x4 block
 * (rows ty + 16r, cols tx + 16c, so global stores coalesce). Packed float16/bfloat16 operands
 * are read packed (a half-precision weight costs half the memory traffic) and staged as f32.
 * Float products with at most 4 rows go to the split-K kernel of gemv.ts instead.
 */
import { isHalf, type DType } from "../../../core/dtype";
import { sizeOf } from "../../../core/shape";
import { collapse } from "../../cpu/strided";
import type { GpuContext, GpuData } from "../context";
import { offsetFn, shader, store, wordOf } from "../wgsl";
import type { GpuView } from "./elementwise";
import { gemv, gemvFits } from "./gemv";
import { HALF_FNS, packedLoadFn } from "./half";

const TILE = 64;
const BK = 16;

export function matmul(ctx: GpuContext, a: GpuView, b: GpuView, outDtype: DType): GpuData {
  const r = a.shape.length;
  const M = a.shape[r - 2];
  const K = a.shape[r - 1];
  const N = b.shape[r - 1];
  const batchShape = a.shape.slice(0, r - 2);
  const batch = sizeOf(batchShape);
  const bc = collapse(batchShape, [a.strides.slice(0, r - 2), b.strides.slice(0, r - 2)]);
  const br = bc.shape.length;
  // [M, N, K, a row/col strides, b row/col strides, batch dims, a batch strides, a offset, b batch strides, b offset]
  const batchPrm = [...bc.shape, ...bc.strides[0], a.offset, ...bc.strides[1], b.offset];
  if (gemvFits(a, M, N)) return gemv(ctx, a, b, outDtype, batch, batchPrm, br);
  const prm = [M, N, K, a.strides[r - 2], a.strides[r - 1], b.strides[r - 2], b.strides[r - 1], ...batchPrm];
  const w = wordOf(a.dtype);
  const zero = w === "f32" ? "0.0" : "0";
  const operand = (name: string, v: GpuView) => ({
    binding: { name, word: isHalf(v.dtype) ? ("u32" as const) : wordOf(v.dtype) },
    load: isHalf(v.dtype) ? packedLoadFn(name, v.dtype) : `fn ld_${name}(e: u32) -> ${w} { return ${name}[e]; }`,
  });
  const A = operand("as_", a);
  const B = operand("bs_", b);
  const out = ctx.alloc(batch * M * N);
  const code = shader({
    wg: 256,
    bindings: [{ name: "out", word: wordOf(outDtype), write: true }, A.binding, B.binding],
    shared: `var<workgroup> ta: array<array<${w}, ${TILE}>, ${BK}>;\nvar<workgroup> tb: array<array<${w}, ${TILE}>, ${BK}>;`,
    fns: [HALF_FNS, A.load, B.load, offsetFn("ab", br, "7u", `${7 + br}u`, `${7 + 2 * br}u`), offsetFn("bb", br, "7u", `${8 + 2 * br}u`, `${8 + 3 * br}u`)],
    body: `  let M = prm[0]; let N = prm[1]; let K = prm[2];
  let bi = wid.z;
  let aBase = off_ab(bi);
  let bBase = off_bb(bi);
  let tx = lid % 16u;
  let ty = lid / 16u;
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  var acc: array<${w}, 16>;
  for (var q = 0u; q < 16u; q++) { acc[q] = ${zero}; }
  for (var k0 = 0u; k0 < K; k0 += ${BK}u) {
    // Stage A[row0.., k0..] transposed (ta[k][m]) and B[k0.., col0..] (tb[k][n]): 4 loads each.
    for (var q = 0u; q < 4u; q++) {
      let e = lid + q * 256u;
      let am = e / ${BK}u; let ak = e % ${BK}u;
      let gm = row0 + am; let gk = k0 + ak;
      ta[ak][am] = select(${zero}, ld_as_(aBase + gm * prm[3] + gk * prm[4]), gm < M && gk < K);
      let bk = e / ${TILE}u; let bn = e % ${TILE}u;
      let hk = k0 + bk; let hn = col0 + bn;
      tb[bk][bn] = select(${zero}, ld_bs_(bBase + hk * prm[5] + hn * prm[6]), hk < K && hn < N);
    }
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k++) {
      var av: array<${w}, 4>;
      var bv: array<${w}, 4>;
      for (var q = 0u; q < 4u; q++) { av[q] = ta[k][ty + 16u * q]; bv[q] = tb[k][tx + 16u * q]; }
      for (var rr = 0u; rr < 4u; rr++) {
        for (var cc = 0u; cc < 4u; cc++) { acc[rr * 4u + cc] += av[rr] * bv[cc]; }
      }
    }
    workgroupBarrier();
  }
  for (var rr = 0u; rr < 4u; rr++) {
    let gm = row0 + ty + 16u * rr;
    for (var cc = 0u; cc < 4u; cc++) {
      let gn = col0 + tx + 16u * cc;
      if (gm < M && gn < N) { out[bi * M * N + gm * N + gn] = ${store(w === wordOf(outDtype) ? "acc[rr * 4u + cc]" : `f32(acc[rr * 4u + cc])`, outDtype)}; }
    }
  }`,
  });
  ctx.dispatch(code, [out.buffer, a.data.buffer, b.data.buffer, ctx.meta(prm)], [Math.ceil(N / TILE), Math.ceil(M / TILE), batch]);
  return out;
}

/**
 * Matmul on the cpu. Float products of useful size run a native GEMM when one is registered
 * (the kernel registry's "cpuGemm": @tessera/native's addon on Node), else the WASM SIMD GEMM
 * (wasm/runtime.ts); the TypeScript kernels below are the reference and the fallback.
 *
 * Cache-blocked float matmul in TypeScript (the GotoBLAS/BLIS loop nest):
 *   for each KC-slice of k: pack B[kc, N] into 4-column panels,
 *     for each MC-block of rows: pack A[mc, kc] into 4-row panels,
 *       for each 4x4 tile: a register-blocked micro-kernel accumulates 16 sums over kc.
 * Panels are Float64Array so the inner loop does no float32->float64 conversions. About 6x a
 * textbook triple loop at n=1024 on one core. Small or skinny products take a direct loop.
 */
import { isFloat, isHalf, type DataArray, type DType, type StorageArray } from "../../core/dtype";
import { sizeOf } from "../../core/shape";
import { allOffsets, computeArray, contiguousValues, operand, toStorage, TRANSPOSE_MIN_ELEMS, type CpuView, type Operand } from "./strided";
import { isBorrowed } from "./pool";
import { CPU_GEMM, registeredCpuKernel, type CpuGemmKernel } from "./registered";
import { wasmFits, wasmKernels, type WasmKernels } from "./wasm/runtime";

/** Products smaller than this many multiply-adds stay in TypeScript (copy-in costs dominate). */
const WASM_MIN_MACS = 16384;

const KC = 256;
const MC = 64;

/** A [M, K] (or [K, N]) matrix inside a strided array. */
interface Mat {
  arr: DataArray;
  off: number;
  rs: number; // row stride
  cs: number; // column stride
}

export function matmul(a: CpuView, b: CpuView, outDtype: DType): StorageArray {
  const r = a.shape.length;
  const M = a.shape[r - 2];
  const K = a.shape[r - 1];
  const N = b.shape[r - 1];
  const batchShape = a.shape.slice(0, r - 2);
  const out = computeArray(outDtype, sizeOf(batchShape) * M * N);
  // A float32 activation times a half weight (mixed products: castModel) for decoding: the
  // weight's half bits go to the half GEMV kernels without being widened here.
  if (isHalf(b.dtype) && a.dtype === "float32" && M <= GEMV_MAX_ROWS && N * K >= GEMV_MIN_ELEMS) {
    const g = wasmKernels();
    let done = false;
    if (g && wasmFits(() => (done = halfWeightGemv(g, operand(a), b, batchShape, M, N, K, out as Float32Array, r))) && done) return toStorage(outDtype, out);
  }
  const A = operand(a);
  const B = operand(b);
  // Few-row products (decoding attention: one query per head) take the GEMV kernels from a lower size.
  const big = M * N * K >= WASM_MIN_MACS || (M <= GEMV_MAX_ROWS && N * K >= GEMV_MIN_ELEMS);
  const native = big && out instanceof Float32Array ? cpuGemm(A, B) : undefined;
  if (native) {
    nativeMatmul(native, A, B, batchShape, M, N, K, out as Float32Array, r, null);
    return toStorage(outDtype, out);
  }
  const gemm = isFloat(a.dtype) && big ? wasmKernels() : null;
  if (gemm) {
    // B may stay resident in WASM memory (a weight): only our own float32 storage qualifies.
    const bSrc = b.dtype === "float32" && !isBorrowed(b.data) ? b.data : null;
    if (wasmFits(() => wasmMatmul(gemm, A, B, batchShape, M, N, K, out as Float32Array, r, bSrc))) return toStorage(outDtype, out);
  }
  const offsets = allOffsets(batchShape, [A.strides.slice(0, r - 2), B.strides.slice(0, r - 2)], [A.offset, B.offset]);
  const acc = new Float64Array(M * N);
  offsets.forEach(([ao, bo], i) => {
    const am: Mat = { arr: A.arr, off: ao, rs: A.strides[r - 2], cs: A.strides[r - 1] };
    const bm: Mat = { arr: B.arr, off: bo, rs: B.strides[r - 2], cs: B.strides[r - 1] };
    acc.fill(0);
    if (M < 4 || N < 4 || M * N * K < 32768) gemmDirect(am, bm, acc, M, N, K);
    else gemmBlocked(am, bm, acc, M, N, K);
    const base = i * M * N;
    for (let j = 0; j < M * N; j++) out[base + j] = acc[j];
  });
  return toStorage(outDtype, out);
}

/**
 * a @ b + bias for float32 operands, bias [N] added to every row. The WASM kernels add it in the
 * product's epilogue (wasm/epilogue.ts: C starts at the bias); the reference is the product
 * followed by the addition.
 */
export function matmulBias(a: CpuView, b: CpuView, bias: CpuView, outDtype: DType): StorageArray {
  const r = a.shape.length;
  const [M, K, N] = [a.shape[r - 2], a.shape[r - 1], b.shape[r - 1]];
  const batchShape = a.shape.slice(0, r - 2);
  const bv = contiguousValues(bias) as Float32Array;
  const floats = a.dtype === "float32" && b.dtype === "float32" && bias.dtype === "float32" && outDtype === "float32";
  const big = M * N * K >= WASM_MIN_MACS || (M <= GEMV_MAX_ROWS && N * K >= GEMV_MIN_ELEMS);
  const native = floats && big ? cpuGemm(operand(a), operand(b)) : undefined;
  if (native) {
    const out = computeArray(outDtype, sizeOf(batchShape) * M * N) as Float32Array;
    nativeMatmul(native, operand(a), operand(b), batchShape, M, N, K, out, r, bv);
    return toStorage(outDtype, out);
  }
  const g = floats && big ? wasmKernels() : null;
  if (g) {
    const out = computeArray(outDtype, sizeOf(batchShape) * M * N) as Float32Array;
    const bSrc = !isBorrowed(b.data) ? b.data : null;
    if (wasmFits(() => wasmMatmul(g, operand(a), operand(b), batchShape, M, N, K, out, r, bSrc, bv))) return toStorage(outDtype, out);
  }
  const out = matmul(a, b, outDtype) as Float32Array;
  for (let i = 0; i < out.length; i += N) for (let j = 0; j < N; j++) out[i + j] += bv[j];
  return out;
}

/** The registered cpu GEMM when both operands are float32 arrays (counted in kernelStats), else undefined. */
function cpuGemm(A: Operand, B: Operand): CpuGemmKernel | undefined {
  if (!(A.arr instanceof Float32Array && B.arr instanceof Float32Array)) return undefined;
  return registeredCpuKernel<CpuGemmKernel>(CPU_GEMM);
}

/** A batched product through a registered cpu GEMM (see forEachProduct for the batch). */
function nativeMatmul(
  k: CpuGemmKernel,
  A: Operand,
  B: Operand,
  batchShape: readonly number[],
  M: number,
  N: number,
  K: number,
  out: Float32Array,
  r: number,
  bias: Float32Array | null,
): void {
  const { transB, bMat } = bOperand(B, N, K, r);
  let lastB = -1;
  let b: Float32Array = new Float32Array(0);
  forEachProduct(wasmKernels(), A, B, batchShape, M, N, K, out, r, (a, bOff, rows, res) => {
    if (bOff !== lastB) [b, lastB] = [bMat(bOff), bOff]; // gathered once per distinct B
    k.matmul(a, b, res, rows, N, K, transB, bias);
  });
}

/** C += A B with an i-k-j loop (row of C updated by rows of B). */
function gemmDirect(A: Mat, B: Mat, C: Float64Array, M: number, N: number, K: number): void {
  const a = A.arr;
  const b = B.arr;
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const aik = a[A.off + i * A.rs + k * A.cs];
      if (aik === 0) continue;
      let bj = B.off + k * B.rs;
      for (let j = 0; j < N; j++, bj += B.cs) C[ci + j] += aik * b[bj];
    }
  }
}

function gemmBlocked(A: Mat, B: Mat, C: Float64Array, M: number, N: number, K: number): void {
  const nPanels = Math.ceil(N / 4);
  const Bp = new Float64Array(KC * nPanels * 4);
  const Ap = new Float64Array(KC * Math.ceil(MC / 4) * 4);
  const a = A.arr;
  const b = B.arr;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    // Pack B[k0:k0+kc, :] into panels of 4 columns: Bp[panel][k][0..3].
    for (let p = 0; p < nPanels; p++) {
      const base = p * kc * 4;
      for (let c = 0; c < 4; c++) {
        const j = p * 4 + c;
        if (j >= N) {
          for (let k = 0; k < kc; k++) Bp[base + k * 4 + c] = 0;
          continue;
        }
        let src = B.off + k0 * B.rs + j * B.cs;
        for (let k = 0; k < kc; k++, src += B.rs) Bp[base + k * 4 + c] = b[src];
      }
    }
    for (let i0 = 0; i0 < M; i0 += MC) {
      const mc = Math.min(MC, M - i0);
      const mPanels = Math.ceil(mc / 4);
      // Pack A[i0:i0+mc, k0:k0+kc] into panels of 4 rows: Ap[panel][k][0..3].
      for (let p = 0; p < mPanels; p++) {
        const base = p * kc * 4;
        for (let rr = 0; rr < 4; rr++) {
          const i = i0 + p * 4 + rr;
          if (i >= M) {
            for (let k = 0; k < kc; k++) Ap[base + k * 4 + rr] = 0;
            continue;
          }
          let src = A.off + i * A.rs + k0 * A.cs;
          for (let k = 0; k < kc; k++, src += A.cs) Ap[base + k * 4 + rr] = a[src];
        }
      }
      for (let pj = 0; pj < nPanels; pj++) {
        for (let pi = 0; pi < mPanels; pi++) microKernel(Ap, pi * kc * 4, Bp, pj * kc * 4, kc, C, i0 + pi * 4, pj * 4, M, N);
      }
    }
  }
}

/** C[i:i+4, j:j+4] += Ap-panel x Bp-panel over kc: 16 accumulators held in registers. */
function microKernel(Ap: Float64Array, ab: number, Bp: Float64Array, bb: number, kc: number, C: Float64Array, i: number, j: number, M: number, N: number): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0,
    c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0,
    c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let k = 0, ao = ab, bo = bb; k < kc; k++, ao += 4, bo += 4) {
    const a0 = Ap[ao],
      a1 = Ap[ao + 1],
      a2 = Ap[ao + 2],
      a3 = Ap[ao + 3];
    const b0 = Bp[bo],
      b1 = Bp[bo + 1],
      b2 = Bp[bo + 2],
      b3 = Bp[bo + 3];
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  if (i + 4 <= M && j + 4 <= N) {
    let o = i * N + j;
    C[o] += c00;
    C[o + 1] += c01;
    C[o + 2] += c02;
    C[o + 3] += c03;
    o += N;
    C[o] += c10;
    C[o + 1] += c11;
    C[o + 2] += c12;
    C[o + 3] += c13;
    o += N;
    C[o] += c20;
    C[o + 1] += c21;
    C[o + 2] += c22;
    C[o + 3] += c23;
    o += N;
    C[o] += c30;
    C[o + 1] += c31;
    C[o + 2] += c32;
    C[o + 3] += c33;
    return;
  }
  const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < 4 && i + r < M; r++) for (let c = 0; c < 4 && j + c < N; c++) C[(i + r) * N + j + c] += tile[r * 4 + c];
}

/** A [rows, cols] matrix of a strided operand as a row-major Float32Array (no copy when it is one). */
function rowMajor(x: Operand, off: number, rs: number, cs: number, rows: number, cols: number): Float32Array {
  const arr = x.arr as Float32Array;
  if (cs === 1 && rs === cols) return arr.subarray(off, off + rows * cols);
  const m = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m[i * cols + j] = arr[off + i * rs + j * cs];
  return m;
}

/** Rows at or below this go through the GEMV kernels (no packing of B). */
const GEMV_MAX_ROWS = 4;
/** GEMV products with a B of at least this many elements run in WASM. */
const GEMV_MIN_ELEMS = 2048;

/**
 * Batched GEMM through WASM (see forEachProduct for the batch). B is read in place when it is
 * row-major [K, N] or the transpose of a row-major [N, K] (x @ W^T with an nn.Linear weight) and
 * may then stay resident; other layouts are gathered into row-major first.
 */
function wasmMatmul(
  g: WasmKernels,
  A: Operand,
  B: Operand,
  batchShape: readonly number[],
  M: number,
  N: number,
  K: number,
  out: Float32Array,
  r: number,
  bSrc: StorageArray | null,
  bias: Float32Array | null = null,
): void {
  const { rowMajorB, transB, bMat } = bOperand(B, N, K, r);
  // B read in place (either layout) can be kept resident; a gathered copy cannot.
  const src = rowMajorB || transB ? bSrc : null;
  forEachProduct(g, A, B, batchShape, M, N, K, out, r, (a, bOff, rows, res, sameB) => {
    if (rows <= GEMV_MAX_ROWS) g.gemv(a, bMat(bOff), rows, N, K, res, transB, src, bOff, false, bias);
    else g.gemm(a, sameB ? new Float32Array(0) : bMat(bOff), rows, N, K, res, sameB, transB, src, bOff, bias); // sameB: still packed
  });
}

/** B's layout and its [K, N] (or [N, K] with transB) matrix at an offset: in place, or gathered row-major. */
function bOperand(B: Operand, N: number, K: number, r: number) {
  const [brs, bcs] = [B.strides[r - 2], B.strides[r - 1]];
  const { rowMajorB, transB } = bLayout(brs, bcs, N, K);
  const bMat = (off: number) => (transB ? (B.arr as Float32Array).subarray(off, off + K * N) : rowMajor(B, off, brs, bcs, K, N));
  return { rowMajorB, transB, bMat };
}

/**
 * Walks a batched product as calls of `product` on row-major A blocks. When B is the same matrix
 * for every batch entry (stride-0 batch dims: x @ W) and A's batch and row dims are one contiguous
 * run, the batch folds into the rows: one call. When every entry's A is a transposed block (copied
 * out by the WASM transpose, `g`) and B is shared, the copies fold too. Otherwise one call per
 * entry, `sameB` telling that B is the previous call's.
 */
function forEachProduct(
  g: WasmKernels | null,
  A: Operand,
  B: Operand,
  batchShape: readonly number[],
  M: number,
  N: number,
  K: number,
  out: Float32Array,
  r: number,
  product: (a: Float32Array, bOff: number, rows: number, res: Float32Array, sameB: boolean) => void,
): void {
  const batch = sizeOf(batchShape);
  const [ars, acs] = [A.strides[r - 2], A.strides[r - 1]];
  if (foldsIntoRows(A, B.strides, batchShape, M, K, r)) {
    product((A.arr as Float32Array).subarray(A.offset, A.offset + batch * M * K), B.offset, batch * M, out, false);
    return;
  }
  const offsets = allOffsets(batchShape, [A.strides.slice(0, r - 2), B.strides.slice(0, r - 2)], [A.offset, B.offset]);
  const aT = g ? transposedRows(g, A, offsets, ars, acs, M, K) : null;
  if (aT && offsets.every(([, bo]) => bo === offsets[0][1])) {
    // every batch entry's A copied out row-major, one B: the batch folds into the rows after all
    product(aT, offsets[0][1], batch * M, out, false);
    return;
  }
  let lastB = -1;
  offsets.forEach(([ao, bo], i) => {
    const a = aT ? aT.subarray(i * M * K, (i + 1) * M * K) : rowMajor(A, ao, ars, acs, M, K);
    product(a, bo, M, out.subarray(i * M * N, (i + 1) * M * N), bo === lastB);
    lastB = bo;
  });
}

/**
 * Every batch entry's A [M, K] row-major in one array when each is a transposed block (strides
 * [1, acs], acs >= M: a [B, D, L] activation read as [B, L, D], as a Mamba mixer's x_proj and
 * out_proj read theirs), copied by the WASM transpose; null otherwise (rowMajor's loop then copies
 * each). All copies happen before any product: the transpose works in the scratch memory where a
 * product keeps B packed from one batch entry to the next.
 */
function transposedRows(g: WasmKernels, A: Operand, offsets: readonly (readonly number[])[], ars: number, acs: number, M: number, K: number): Float32Array | null {
  if (ars !== 1 || acs < M || M * K < TRANSPOSE_MIN_ELEMS) return null;
  const arr = A.arr as Float32Array;
  const all = new Float32Array(offsets.length * M * K);
  // entry i: K source rows of M values, acs apart
  return wasmFits(() => offsets.forEach(([ao], i) => g.transposeCopy(arr, ao, acs, K, M, all, i * M * K))) ? all : null;
}

/**
 * Whether the batch folds into the rows of one product: B is the same matrix for every batch
 * entry (stride-0 batch dims: x @ W) and A's batch and row dims are one contiguous run.
 */
function foldsIntoRows(A: Operand, bStrides: readonly number[], batchShape: readonly number[], M: number, K: number, r: number): boolean {
  const bShared = bStrides.slice(0, r - 2).every((s, i) => s === 0 || batchShape[i] === 1);
  let foldable = bShared && A.strides[r - 1] === 1 && A.strides[r - 2] === K;
  for (let d = r - 3, run = M * K; d >= 0 && foldable; d--) {
    if (batchShape[d] !== 1 && A.strides[d] !== run) foldable = false;
    run *= batchShape[d];
  }
  return foldable;
}

/** B read in place: row-major [K, N], or the transpose of a row-major [N, K] (x @ W^T). */
function bLayout(brs: number, bcs: number, N: number, K: number): { rowMajorB: boolean; transB: boolean } {
  const rowMajorB = bcs === 1 && brs === N;
  return { rowMajorB, transB: !rowMajorB && brs === 1 && bcs === K };
}

/**
 * x @ W (or x @ W^T) for few rows with W in float16 / bfloat16 storage, read as half bits by the
 * WASM half GEMV kernels (and kept resident at 2 bytes an element). Returns false, having done
 * nothing, when the layout does not fit (the caller then widens the weight).
 */
function halfWeightGemv(g: WasmKernels, A: Operand, b: CpuView, batchShape: readonly number[], M: number, N: number, K: number, out: Float32Array, r: number): boolean {
  const rows = sizeOf(batchShape) * M;
  const { rowMajorB, transB } = bLayout(b.strides[r - 2], b.strides[r - 1], N, K);
  if (rows > GEMV_MAX_ROWS || !(rowMajorB || transB) || !foldsIntoRows(A, b.strides, batchShape, M, K, r)) return false;
  const bits = (b.data as Uint16Array).subarray(b.offset, b.offset + K * N);
  const x = (A.arr as Float32Array).subarray(A.offset, A.offset + rows * K);
  g.gemv(x, bits, rows, N, K, out, transB, isBorrowed(b.data) ? null : b.data, b.offset, b.dtype === "bfloat16");
  return true;
}

/**
 * The `gpujs` backend: gpu.js kernels (webgl2 / headless-gl on a GPU, webasm or cpu elsewhere)
 * for the float32 work that dominates models — elementwise math, matmul, softmax, layer norms
 * and last-axis reductions — over host memory shared with the cpu backend's layout. The rest of
 * the kernel set (integer math, strided gathers, scans, sorting, ...) runs the cpu kernels, and
 * says so: `stats().fallback` counts those calls per kernel and `info.fallbackKernels` lists them.
 */
import { isFloat, type DType, type StorageArray } from "../../core/dtype";
import { sizeOf } from "../../core/shape";
import { UNARY_OPS, type Backend, type BinaryOp, type UnaryAttrs, type UnaryOp, type View } from "../backend";
import { createCpuBackend } from "../cpu";
import { contiguousValues, toStorage } from "../cpu/strided";
import * as K from "./kernels";

/** The parts of gpu.js this backend uses (gpu.js is a peer dependency the caller provides). */
export interface GpuJsLike {
  createKernel(source: string, settings: Record<string, unknown>): GpuJsKernel;
  addFunction(source: string): unknown;
  readonly mode: string;
}
interface GpuJsKernel {
  (...args: unknown[]): Float32Array | number[];
  setOutput(output: number[]): GpuJsKernel;
}

export interface GpuJsBackendInfo {
  mode: string;
  nativeKernels: string[];
  fallbackKernels: string[];
}

export interface GpuJsBackend extends Backend<StorageArray> {
  readonly info: GpuJsBackendInfo;
  stats(): { native: Record<string, number>; fallback: Record<string, number> };
}

type V = View<StorageArray>;

/** Unary ops with a gpu.js kernel (float); the rest of UNARY_OPS run on the cpu, counted as fallbacks. */
const NATIVE_UNARY = UNARY_OPS.filter((op) => op in K.UNARY_EXPR);
const FALLBACK_UNARY = UNARY_OPS.filter((op) => !(op in K.UNARY_EXPR));
const NATIVE = [
  `unary (float): ${NATIVE_UNARY.join(", ")}`,
  "binary (float, same shape)",
  "matmul (float)",
  "softmax",
  "layerNorm",
  "rmsNorm",
  "reduce sum/mean/max/min over the last axis (float)",
];
const FALLBACK = [
  `unary ${FALLBACK_UNARY.join(", ")}`,
  "fill",
  "copy",
  "write",
  "where",
  "argReduce",
  "gather",
  "indexSelect",
  "scatterAdd",
  "conv1d",
  "cumulative",
  "sort",
  "topk",
  "integer and bool math",
  "reductions over other axes",
];

export function createGpuJsBackend(gpu: GpuJsLike): GpuJsBackend {
  const cpu = createCpuBackend();
  gpu.addFunction(K.ERF_FN);
  const kernels = new Map<string, GpuJsKernel>();
  const native: Record<string, number> = {};
  const fallback: Record<string, number> = {};
  const count = (rec: Record<string, number>, k: string) => (rec[k] = (rec[k] ?? 0) + 1);

  /** A compiled kernel (once per source), resized to `n` outputs. */
  const kernel = (name: string, source: string, n: number): GpuJsKernel => {
    let k = kernels.get(name);
    if (!k) {
      k = gpu.createKernel(source, { output: [Math.max(n, 1)], dynamicOutput: true, dynamicArguments: true, loopMaxIterations: 1 << 30, precision: "single", tactic: "precision" });
      kernels.set(name, k);
    }
    return k.setOutput([Math.max(n, 1)]);
  };
  const run = (name: string, source: string, n: number, ...args: unknown[]): Float32Array => {
    count(native, name.split(":")[0]);
    if (n === 0) return new Float32Array(0); // gpu.js cannot take empty arguments
    const out = kernel(name, source, n)(...args);
    const f = out instanceof Float32Array ? out : Float32Array.from(out as number[]);
    return n === 0 ? new Float32Array(0) : f.length === n ? f : f.subarray(0, n);
  };
  /** Contiguous float32 values of a view (decodes halves; copies strided views). */
  const f32 = (v: V): Float32Array => {
    const c = contiguousValues(v);
    return c instanceof Float32Array ? c : Float32Array.from(c);
  };
  const rowsOf = (v: V): [number, number] => {
    const D = v.shape[v.shape.length - 1] ?? 1;
    return [sizeOf(v.shape) / Math.max(D, 1), D];
  };
  const fb = <T>(name: string, f: () => T): T => {
    count(fallback, name);
    return f();
  };

  const backend: GpuJsBackend = {
    ...cpu,
    name: "gpujs",
    info: { mode: gpu.mode, nativeKernels: NATIVE, fallbackKernels: FALLBACK },
    stats: () => ({ native: { ...native }, fallback: { ...fallback } }),
    fill: (size, dtype, value) => fb("fill", () => cpu.fill(size, dtype, value)),
    copy: (x, dtype) => fb("copy", () => cpu.copy(x, dtype)),
    write: (dst, src) => fb("write", () => cpu.write(dst, src)),
    where: (c, a, b) => fb("where", () => cpu.where(c, a, b)),
    argReduce: (op, x, axis) => fb("argReduce", () => cpu.argReduce(op, x, axis)),
    gather: (x, a, i) => fb("gather", () => cpu.gather(x, a, i)),
    indexSelect: (x, a, i) => fb("indexSelect", () => cpu.indexSelect(x, a, i)),
    scatterAdd: (b, a, i, s) => fb("scatterAdd", () => cpu.scatterAdd(b, a, i, s)),
    conv1d: (x, w, b, p) => fb("conv1d", () => cpu.conv1d(x, w, b, p)),
    cumulative: (op, x, a, r, e) => fb("cumulative", () => cpu.cumulative(op, x, a, r, e)),
    sort: (x, d) => fb("sort", () => cpu.sort(x, d)),
    topk: (x, k, l) => fb("topk", () => cpu.topk(x, k, l)),

    unary(op: UnaryOp, x: V, outDtype: DType, attrs: UnaryAttrs = {}): StorageArray {
      if (!isFloat(x.dtype) || !isFloat(outDtype) || !(op in K.UNARY_EXPR)) return fb(`unary ${op}`, () => cpu.unary(op, x, outDtype, attrs));
      const a0 = op === "softplus" ? (attrs.beta ?? 1) : op === "elu" ? (attrs.alpha ?? 1) : op === "clamp" ? (attrs.min ?? -3.4e38) : 0;
      const a1 = op === "softplus" ? (attrs.threshold ?? 20) : op === "clamp" ? (attrs.max ?? 3.4e38) : 0;
      return toStorage(outDtype, run(`unary:${op}`, K.unarySource(op), sizeOf(x.shape), f32(x), a0, a1));
    },

    binary(op: BinaryOp, a: V, b: V, outDtype: DType): StorageArray {
      if (!isFloat(a.dtype) || !(op in K.BINARY_EXPR)) return fb(`binary ${op}`, () => cpu.binary(op, a, b, outDtype));
      // Broadcast operands are materialized (stride-0 views become contiguous copies).
      const out = run(`binary:${op}`, K.binarySource(op), sizeOf(a.shape), f32(a), f32(b));
      return outDtype === "bool" ? Uint8Array.from(out) : toStorage(outDtype, out);
    },

    reduce(op, x, axes, outDtype) {
      const last = x.shape.length - 1;
      const lastOnly = axes.length === 1 && axes[0] === last && x.shape[last] > 0;
      if (!isFloat(x.dtype) || !lastOnly || !["sum", "mean", "max", "min"].includes(op)) return fb(`reduce ${op}`, () => cpu.reduce(op, x, axes, outDtype));
      const [rows, D] = rowsOf(x);
      const src = op === "max" ? K.ROW_MAX : op === "min" ? K.ROW_MIN : K.ROW_SUM;
      const r = run(`reduce:${op === "mean" ? "sum" : op}`, src, rows, f32(x), D);
      if (op === "mean") for (let i = 0; i < rows; i++) r[i] /= D;
      return toStorage(outDtype, r);
    },

    matmul(a, b, outDtype) {
      if (!isFloat(a.dtype) || !isFloat(b.dtype)) return fb("matmul (int)", () => cpu.matmul(a, b, outDtype));
      const r = a.shape.length;
      const [M, Kd, N] = [a.shape[r - 2], a.shape[r - 1], b.shape[r - 1]];
      const batch = sizeOf(a.shape.slice(0, r - 2));
      // An empty contraction is all zeros (gpu.js cannot take empty arguments).
      if (Kd === 0) return toStorage(outDtype, new Float32Array(batch * M * N));
      const av = f32(a); // broadcast batch dims are materialized here
      const bv = f32(b);
      const out = new Float32Array(batch * M * N);
      for (let i = 0; i < batch; i++) out.set(run("matmul", K.MATMUL, M * N, av, bv, Kd, N, i * M * Kd, i * Kd * N), i * M * N);
      return toStorage(outDtype, out);
    },

    softmax(x, log) {
      const [rows, D] = rowsOf(x);
      const xv = f32(x);
      const mx = run("softmax:max", K.ROW_MAX, rows, xv, D);
      for (let i = 0; i < rows; i++) if (mx[i] === -Infinity) mx[i] = 0; // fully masked rows give NaN, as PyTorch
      const se = run("softmax:sumexp", K.ROW_SUMEXP, rows, xv, mx, D);
      return toStorage(x.dtype, run(log ? "softmax:log" : "softmax:apply", log ? K.LOGSOFTMAX_APPLY : K.SOFTMAX_APPLY, rows * D, xv, mx, se, D));
    },

    layerNorm(x, w, b, eps) {
      const [rows, D] = rowsOf(x);
      const xv = f32(x);
      const mean = run("layerNorm:sum", K.ROW_SUM, rows, xv, D).map((s) => s / D);
      const ss = run("layerNorm:var", K.ROW_SUMSQ_CENTRED, rows, xv, mean, D);
      const rstd = ss.map((s) => 1 / Math.sqrt(s / D + eps));
      const wv = w ? f32(w) : new Float32Array(D).fill(1);
      const bv = b ? f32(b) : new Float32Array(D);
      return toStorage(x.dtype, run("layerNorm:apply", K.NORM_APPLY, rows * D, xv, mean, rstd, wv, bv, D));
    },

    rmsNorm(x, w, eps) {
      const [rows, D] = rowsOf(x);
      const xv = f32(x);
      const r = run("rmsNorm:sumsq", K.ROW_SUMSQ, rows, xv, D).map((s) => 1 / Math.sqrt(s / D + eps));
      const wv = w ? f32(w) : new Float32Array(D).fill(1);
      return toStorage(x.dtype, run("rmsNorm:apply", K.RMS_APPLY, rows * D, xv, r, wv, D));
    },
  };
  return backend;
}

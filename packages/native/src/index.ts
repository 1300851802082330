/**
 * @tessera/native: native cpu kernels for Tessera on Node.js. The float32 GEMM and GEMV that
 * Transformers and SSMs spend most of their time in, and the element-wise ops around them
 * (activations, add / sub / mul / div), in C with AVX-512 / AVX2+FMA / portable vector code
 * (picked at load), on a pool of native threads, registered as the cpu backend's "cpuGemm",
 * "cpuElementwise" and "cpuAttention" kernels: float32 matmul, linear, affine, activations,
 * arithmetic and the attention forward on the cpu then run natively, and everything else is
 * unchanged.
 *
 *   import { enableNative } from "@tessera/native";
 *   const info = enableNative(); // { available: true, isa: "avx512", threads: 2, ... }
 *
 * The addon is compiled at install by the system C compiler; where there is none (or in a
 * browser) nativeInfo().available is false with the reason, and Tessera keeps its WebAssembly
 * kernels.
 */
import {
  CPU_ATTENTION,
  CPU_ELEMENTWISE,
  CPU_GEMM,
  cpuSpinFlag,
  fail,
  registerKernel,
  unregisterKernel,
  type BinaryOp,
  type CpuAttentionKernel,
  type CpuElementwiseKernel,
  type CpuRowOp,
  type CpuGemmKernel,
  type UnaryOp,
} from "@tessera/tensor";
import { availableParallelism } from "node:os";
import { loadAddon, type Addon } from "./addon";

/** The instruction sets the kernels are compiled for, best first (x86-64; other cpus: "generic"). */
export type NativeIsa = "avx512" | "avx2" | "generic";

export interface NativeInfo {
  /** Whether the addon loaded. */
  available: boolean;
  /** Why it is not available (null when it is). */
  reason: string | null;
  /** The instruction set the kernels run with (null when unavailable). */
  isa: NativeIsa | null;
  /** Those compiled in, best first. */
  isas: NativeIsa[];
  /** Threads a product may use (the caller's included). */
  threads: number;
  /** Which of the cpu backend's kernels run natively (enableNative): "gemm", "elementwise", "attention". */
  enabled: NativeKernelSet[];
  /** Where the addon is (or was looked for). */
  path: string;
}

/** The groups of cpu kernels enableNative registers: products, element-wise ops, and the attention forward. */
export type NativeKernelSet = "gemm" | "elementwise" | "attention";
export const NATIVE_KERNEL_SETS: readonly NativeKernelSet[] = ["gemm", "elementwise", "attention"];

export interface NativeOptions {
  /** Threads for a product, the calling thread included: 1-64 (default os.availableParallelism(), at most 64). */
  threads?: number;
  /** Force an instruction set (tests, comparisons): it must be one this cpu has. Default: the best. */
  isa?: NativeIsa;
}

let enabled: NativeKernelSet[] = [];
/** Kept alive while the addon holds a pointer into it. */
let spinFlag: Int32Array | null = null;

/** What the addon is and does on this machine; never throws. */
export function nativeInfo(): NativeInfo {
  const { addon, path, reason } = loadAddon();
  if (!addon) return { available: false, reason, isa: null, isas: [], threads: 0, enabled: [], path };
  const i = addon.info();
  return { available: true, reason: null, isa: i.isa as NativeIsa, isas: i.isas.split(",") as NativeIsa[], threads: i.threads, enabled: [...enabled], path };
}

function requireAddon(op: string): Addon {
  const { addon, reason } = loadAddon();
  if (!addon) fail(op, `the native addon is not available: ${reason}`);
  return addon;
}

/** Sets threads and instruction set (see NativeOptions); returns nativeInfo(). Throws when the addon is unavailable. */
export function configureNative(options: NativeOptions = {}): NativeInfo {
  return applyOptions("configureNative", requireAddon("configureNative"), options);
}

/** Checks every option first, then applies them: an error leaves the settings as they were. */
function applyOptions(op: string, addon: Addon, options: NativeOptions): NativeInfo {
  const { threads, isa } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 64)) fail(op, `threads must be a whole number in [1, 64], got ${threads}`);
  // a refused isa changes nothing, so it goes first
  if (isa !== undefined && !addon.setIsa(isa))
    fail(op, `isa '${isa}' is not usable here: compiled for ${addon.info().isas.split(",").join(", ")}, and this cpu must support the one asked for`);
  if (threads !== undefined) addon.setThreads(threads);
  return nativeInfo();
}

/** The addon's codes for Tessera's unary and binary op names (csrc/elementwise.h). */
const UNARY_CODES: Partial<Record<UnaryOp, number>> = { exp: 0, sigmoid: 1, silu: 2, gelu: 3, tanh: 4, gelu_tanh: 5 };
const BINARY_CODES: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3 };
const ROW_CODES: Record<CpuRowOp, number> = { softmax: 0, logSoftmax: 1, layerNorm: 2, rmsNorm: 3 };

export interface EnableOptions extends NativeOptions {
  /** Which groups of kernels to register (default all): "gemm" (matmul, linear, affine), "elementwise" (activations, + - * /, copies, softmax and norms), "attention" (the fused attention forward). */
  kernels?: readonly NativeKernelSet[];
}

/**
 * Registers the native kernels with the cpu backend (the kernel registry, backend "cpu"):
 * "cpuGemm" (float32 matmul, linear, affine of useful size, batched or not),
 * "cpuElementwise" (float32 exp, sigmoid, silu, gelu, tanh, gelu-tanh; add, sub, mul, div of
 * same-size tensors or a broadcast row; strided copies: views made contiguous, writes into
 * views; softmax, log-softmax, LayerNorm and RMSNorm over the last axis) and "cpuAttention" (the fused attention forward: q, k and v read in place, from a
 * fused projection's columns or a key / value cache), and applies `options`; threads default to
 * os.availableParallelism() the first time. Throws (saying why) when the addon is unavailable.
 */
export function enableNative(options: EnableOptions = {}): NativeInfo {
  const addon = requireAddon("enableNative");
  const sets = options.kernels ?? NATIVE_KERNEL_SETS;
  for (const k of sets) if (!NATIVE_KERNEL_SETS.includes(k)) fail("enableNative", `kernels: unknown set '${k}' (sets: ${NATIVE_KERNEL_SETS.join(", ")})`);
  const firstTime = !enabled.length && options.threads === undefined && addon.info().threads === 1;
  applyOptions("enableNative", addon, options);
  if (firstTime) addon.setThreads(Math.min(64, availableParallelism()));
  const name = () => {
    const i = addon.info();
    return `native ${i.isa} x${i.threads}`;
  };
  disableNative();
  if (sets.includes("gemm")) {
    const gemm: CpuGemmKernel = {
      get name() {
        return name();
      },
      matmul: (a, b, c, M, N, K, transB, bias) => addon.matmul(a, b, c, M, N, K, transB, bias),
    };
    registerKernel(CPU_GEMM, "cpu", gemm);
  }
  if (sets.includes("elementwise")) {
    const elementwise: CpuElementwiseKernel = {
      get name() {
        return name();
      },
      unary(op, x, out) {
        const code = UNARY_CODES[op];
        if (code === undefined) return false;
        addon.unary(code, x, out);
        return true;
      },
      binary(op, a, b, out) {
        const code = BINARY_CODES[op];
        if (code === undefined) return false;
        addon.binary(code, a, b, out);
        return true;
      },
      rows(op, x, rows, D, out, weight, bias, eps) {
        // Declined (the backend's own kernels run): sizes past the addon's, weights shorter
        // than a row, an eps that is negative or past float32, or overlapping arrays.
        const code = ROW_CODES[op];
        const whole = (n: number) => Number.isInteger(n) && n >= 0 && n <= 2 ** 30;
        if (code === undefined || !whole(rows) || !whole(D) || !(eps >= 0 && eps <= 3.4e38)) return false;
        if ((weight && weight.length < D) || (bias && bias.length < D) || x.length < rows * D || out.length < rows * D) return false;
        // x may be out itself (in place); weight and bias may not touch it.
        if (x !== out && overlaps(x, rows * D, out, rows * D)) return false;
        if ([weight, bias].some((a) => a && overlaps(a, D, out, rows * D))) return false;
        addon.rows(code, x, out, rows, D, code < 2 ? null : weight, code === 2 ? bias : null, eps); // softmax: neither; RMSNorm: no bias
        return true;
      },
      copy(src, srcOffset, shape, srcStrides, dst, dstOffset, dstStrides) {
        if (src.buffer === dst.buffer || shape.length > 16) return false;
        const r = shape.length;
        const layout = new Float64Array(1 + 3 * r);
        layout[0] = r;
        for (let d = 0; d < r; d++) [layout[1 + d], layout[1 + r + d], layout[1 + 2 * r + d]] = [shape[d], srcStrides[d], dstStrides[d]];
        addon.copy(src, srcOffset, dst, dstOffset, layout);
        return true;
      },
    };
    registerKernel(CPU_ELEMENTWISE, "cpu", elementwise);
  }
  if (sets.includes("attention")) {
    const attention: CpuAttentionKernel = {
      get name() {
        return name();
      },
      forward(p, q, k, v, out, lse) {
        // What the addon takes: finite scale and cap (c tanh(s / c) is even in c), sizes, offsets
        // and strides up to 2^30; anything else is declined (the caller's WebAssembly kernel runs).
        const cap = Math.abs(p.softcap ?? 0);
        const whole = [p.B, p.H, p.Hkv, p.Tq, p.Tk, p.D, p.Dv, ...[q, k, v, out].flatMap((x) => [x.offset, ...x.strides])];
        if (!Number.isFinite(p.scale) || !Number.isFinite(cap) || whole.some((n) => !(n >= 0 && n <= 2 ** 30))) return false;
        const side = (x: number) => Math.min(Math.floor(x), 2 ** 30); // keys pos - x .. pos + x (a fractional side as the WebAssembly kernel: truncated)
        const flags = [p.causal ? 1 : 0, p.window ? 1 : 0, p.window ? side(p.window[0]) : 0, p.window ? side(p.window[1]) : 0, p.zeroMaskedRows ? 1 : 0];
        const layout = Float64Array.of(...whole, ...flags, p.scale, cap);
        addon.attention(q.data, k.data, v.data, out.data, lse, p.keyBias, p.alibiSlopes, layout);
        return true;
      },
    };
    registerKernel(CPU_ATTENTION, "cpu", attention);
  }
  // Share the WebAssembly pools' "who dispatched last" int: their workers stop spinning while
  // the native threads work and these stop spinning when those dispatch (2 cores, 3+ threads).
  spinFlag = cpuSpinFlag();
  addon.setSpinFlag(spinFlag);
  enabled = [...sets];
  return nativeInfo();
}

/** Unregisters the native kernels: the cpu backend goes back to its WebAssembly kernels. */
export function disableNative(): void {
  unregisterKernel(CPU_GEMM, "cpu");
  unregisterKernel(CPU_ELEMENTWISE, "cpu");
  unregisterKernel(CPU_ATTENTION, "cpu");
  enabled = [];
}

/** Whether the first n values of x and the first m of y share memory. */
function overlaps(x: Float32Array, n: number, y: Float32Array, m: number): boolean {
  if (x.buffer !== y.buffer) return false;
  return x.byteOffset < y.byteOffset + 4 * m && y.byteOffset < x.byteOffset + 4 * n;
}

export interface NativeMatmulOptions {
  /** `b` holds W [N, K] row-major and the product is a W^T (an nn.Linear weight). */
  transB?: boolean;
  /** [N], added to every row. */
  bias?: Float32Array | null;
  /** Where to write [M, N] (default: a new array). It must not overlap a, b or bias. */
  out?: Float32Array;
}

/**
 * c [M, N] = a [M, K] b (+ bias) on plain row-major Float32Arrays, b [K, N] (or with transB the
 * transpose of [N, K]): the addon without tensors. Throws on short or overlapping arrays.
 */
export function nativeMatmul(a: Float32Array, b: Float32Array, M: number, N: number, K: number, options: NativeMatmulOptions = {}): Float32Array {
  const addon = requireAddon("nativeMatmul");
  for (const [name, v] of [
    ["M", M],
    ["N", N],
    ["K", K],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 30) fail("nativeMatmul", `${name} must be a whole number in [0, 2^30], got ${v}`);
  }
  const { transB = false, bias = null } = options;
  if (typeof transB !== "boolean") fail("nativeMatmul", `transB must be a boolean, got ${typeof transB}`);
  for (const [name, v] of [
    ["a", a],
    ["b", b],
    ["bias", bias],
    ["out", options.out ?? null],
  ] as const) {
    if (v !== null && !(v instanceof Float32Array)) fail("nativeMatmul", `${name} must be a Float32Array, got ${Object.prototype.toString.call(v)}`);
  }
  if (a.length < M * K) fail("nativeMatmul", `a has ${a.length} values; [M, K] = [${M}, ${K}] needs ${M * K}`);
  if (b.length < K * N) fail("nativeMatmul", `b has ${b.length} values; ${transB ? `[N, K] = [${N}, ${K}]` : `[K, N] = [${K}, ${N}]`} needs ${K * N}`);
  if (bias && bias.length < N) fail("nativeMatmul", `bias has ${bias.length} values; N = ${N} needs ${N}`);
  const out = options.out ?? new Float32Array(M * N);
  if (out.length < M * N) fail("nativeMatmul", `out has ${out.length} values; [M, N] = [${M}, ${N}] needs ${M * N}`);
  for (const [name, v, n] of [
    ["a", a, M * K],
    ["b", b, K * N],
    ["bias", bias, N],
  ] as const) {
    if (v && n > 0 && M * N > 0 && overlaps(out, M * N, v, n)) fail("nativeMatmul", `out must not overlap ${name}`);
  }
  addon.matmul(a, b, out, M, N, K, transB, bias);
  return out;
}

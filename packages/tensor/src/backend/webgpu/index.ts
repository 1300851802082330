/**
 * The `webgpu` backend: hand-written WGSL kernels for the whole kernel set (see kernels/), on
 * `navigator.gpu` in browsers or the `webgpu` package (Dawn) in Node. Work is enqueued and
 * returns at once; `await t.data()` reads back. Buffers hold 32-bit words (see wgsl.ts); float16
 * and bfloat16 are stored packed, two per word (kernels/half.ts), and widened around the kernels
 * that do not read them packed themselves.
 */
/// <reference types="@webgpu/types" />
import { f32ToBf16Bits, f32ToF16Bits, isHalf, type DType, type StorageArray } from "../../core/dtype";
import { fail } from "../../core/errors";
import { contiguousStrides, isContiguous, sizeOf } from "../../core/shape";
import type { Backend, View } from "../backend";
import { GpuContext, type GpuData, type PoolStats } from "./context";
import * as ew from "./kernels/elementwise";
import * as half from "./kernels/half";
import { conv1d } from "./kernels/conv";
import { gather, indexSelect, scatterAdd } from "./kernels/indexing";
import { matmul } from "./kernels/matmul";
import { argReduce, cumulative, reduce } from "./kernels/reduce";
import { layerNorm, rmsNorm, softmax } from "./kernels/rows";
import { sortRows } from "./kernels/sort";

/*
 * The WebGPU objects the public API takes or shows are described structurally below, so the
 * published declarations compile without @webgpu/types (TypeScript 5.x has no WebGPU in its DOM
 * lib) and without clashing with TypeScript 6+, whose DOM lib declares the same names: any real
 * GPU / GPUAdapter / GPUDevice / GPUBuffer (navigator.gpu, or `create([])` from the `webgpu`
 * package) fits. Inside, the backend uses the full WebGPU types.
 */

/** GPURequestAdapterOptions' powerPreference. */
export type WebGPUPowerPreference = "low-power" | "high-performance";

/** A WebGPU `GPU` object: navigator.gpu in browsers, `create([])` from the `webgpu` package in Node. */
export interface WebGPULike {
  requestAdapter(options?: { powerPreference?: WebGPUPowerPreference }): Promise<unknown>;
  getPreferredCanvasFormat(): string;
}

/** A WebGPU `GPUAdapter`. */
export interface WebGPUAdapterLike {
  readonly limits: object;
  requestDevice(...descriptor: never[]): Promise<unknown>;
}

/** A WebGPU `GPUDevice`. */
export interface WebGPUDeviceLike {
  readonly limits: object;
  readonly queue: object;
  createBuffer(...descriptor: never[]): unknown;
  createComputePipeline(...descriptor: never[]): unknown;
  destroy(): void;
}

/** A WebGPU `GPUBuffer`. */
export interface WebGPUBufferLike {
  readonly size: number;
  readonly usage: number;
  destroy(): void;
}

/** A tensor's storage on the webgpu backend: a buffer of `size` 32-bit words. */
export interface WebGPUData {
  buffer: WebGPUBufferLike;
  size: number;
}

export interface WebGPUOptions {
  /** A GPU object (navigator.gpu, or `create([])` from the `webgpu` package). */
  gpu?: WebGPULike;
  /** An adapter or device to use instead of requesting one. */
  adapter?: WebGPUAdapterLike;
  device?: WebGPUDeviceLike;
  powerPreference?: WebGPUPowerPreference;
  /** Bytes of freed buffers kept for reuse (default 512 MiB). */
  poolLimit?: number;
}

/** What the adapter is and can do. */
export interface WebGPUInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
}

/** A custom WGSL kernel: storage bindings are the outputs (read_write), then the inputs, then `prm`. */
export interface WgslKernelSpec<D = WebGPUData> {
  /** The full shader source (see `wgslShader` for the standard preamble). */
  code: string;
  /** Contiguous input buffers with their dtypes (bound read-only after the outputs). */
  inputs: { data: D; dtype: DType }[];
  /** Output sizes in elements (each a fresh buffer of 32-bit words). */
  outputs: number[];
  /** u32 parameters bound last as `prm`. */
  params: readonly number[];
  /** Workgroups: a count (spread over x and y) or an explicit grid. */
  groups: number | [number, number, number];
}

/** The backend over buffers of type D (the internal one sees full GPUBuffers). */
interface WebGPUBackendOf<D> extends Backend<D> {
  readonly info: WebGPUInfo;
  /** Records a custom kernel (for packages with their own fused kernels); returns the output buffers. */
  runKernel(spec: WgslKernelSpec<D>): D[];
  /** Waits until all submitted GPU work has finished. */
  sync(): Promise<void>;
  /** Buffer pool and dispatch counters. */
  stats(): PoolStats;
  /** Frees pooled (unused) buffers. */
  trim(): void;
}

export interface WebGPUBackend extends WebGPUBackendOf<WebGPUData> {}

const LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

async function findGpu(opts: WebGPUOptions): Promise<GPU> {
  if (opts.gpu) return opts.gpu as GPU;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  fail(
    "webgpu",
    "no WebGPU here: navigator.gpu is missing. In Node, pass { gpu: create([]) } from the 'webgpu' package (on Linux without a GPU, point VK_ICD_FILENAMES at SwiftShader's ICD).",
  );
}

/** Creates the backend (async: adapter and device requests). */
export async function createWebGPUBackend(opts: WebGPUOptions = {}): Promise<WebGPUBackend> {
  let device = opts.device as GPUDevice | undefined;
  let adapter = opts.adapter as GPUAdapter | undefined;
  if (!device) {
    if (!adapter) {
      const gpu = await findGpu(opts);
      adapter = (await gpu.requestAdapter({ powerPreference: opts.powerPreference })) ?? undefined;
      if (!adapter) fail("webgpu", "requestAdapter() found no adapter (no GPU, or no Vulkan/Metal/D3D driver Dawn can use)");
    }
    // Ask for the adapter's own limits: the defaults cap storage buffers at 128 MiB.
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMITS) requiredLimits[k] = adapter.limits[k];
    device = await adapter.requestDevice({ requiredLimits });
  }
  const ad = adapter as (GPUAdapter & { info?: GPUAdapterInfo }) | undefined;
  const info: WebGPUInfo = {
    vendor: ad?.info?.vendor ?? "",
    architecture: ad?.info?.architecture ?? "",
    device: ad?.info?.device ?? "",
    description: ad?.info?.description ?? "",
    features: [...(ad?.features ?? device.features)].map(String).sort(),
    limits: Object.fromEntries(LIMITS.map((k) => [k, device!.limits[k]])),
  };
  // The public type differs only in describing buffers structurally (a GPUBuffer fits it).
  return makeBackend(new GpuContext(device, opts.poolLimit), info) as WebGPUBackendOf<GpuData> as unknown as WebGPUBackend;
}

/** Host data for upload, as whole 32-bit words: halves are uploaded as their raw bits, packed. */
function toWords(values: StorageArray, dtype: DType): ArrayBufferView {
  if (dtype === "float32" || dtype === "int32") return values;
  if (isHalf(dtype)) {
    const bits = values as Uint16Array;
    if (bits.length % 2 === 0 && bits.byteOffset % 4 === 0) return bits;
    const even = new Uint16Array(bits.length + (bits.length % 2));
    even.set(bits);
    return even;
  }
  return Int32Array.from(values as Int8Array | Uint8Array);
}

function fromWords(buf: ArrayBuffer, dtype: DType, size: number): StorageArray {
  if (dtype === "float32") return new Float32Array(buf, 0, size);
  if (isHalf(dtype)) return new Uint16Array(buf, 0, size);
  const i = new Int32Array(buf, 0, size);
  if (dtype === "int32") return i;
  return dtype === "int8" ? Int8Array.from(i) : Uint8Array.from(i);
}

function makeBackend(ctx: GpuContext, info: WebGPUInfo): WebGPUBackendOf<GpuData> {
  type V = View<GpuData>;
  /** Kernels that index rows directly need a packed input: copy when the view is strided. */
  const packed = (v: V): { view: V; temp: GpuData | null } => {
    if (isContiguous(v.shape, v.strides)) return { view: v, temp: null };
    const data = ew.copy(ctx, v, v.dtype);
    return { view: { data, dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 }, temp: data };
  };
  /** Half inputs as wide words (one f32 per element), for kernels that do not read packed halves. */
  const widened = (v: V): { view: V; temp: GpuData | null } => {
    if (!isHalf(v.dtype)) return { view: v, temp: null };
    const data = half.unpack(ctx, v);
    return { view: { data, dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 }, temp: data };
  };
  const using = <T>(prepare: (v: V) => { view: V; temp: GpuData | null }, views: (V | null)[], run: (...vs: (V | null)[]) => T): T => {
    const ps = views.map((v) => (v ? prepare(v) : null));
    try {
      return run(...ps.map((p) => p?.view ?? null));
    } finally {
      for (const p of ps) if (p?.temp) ctx.release(p.temp);
    }
  };
  const withPacked = <T>(views: (V | null)[], run: (...vs: (V | null)[]) => T): T => using(packed, views, run);
  const withWide = <T>(views: (V | null)[], run: (...vs: (V | null)[]) => T): T => using(widened, views, run);
  /** A kernel's wide output as the storage of `dtype` (packed if half). */
  const stored = (d: GpuData, dtype: DType): GpuData => (isHalf(dtype) ? half.narrow(ctx, d, dtype, d.size) : d);
  const fill = (size: number, dtype: DType, value: number): GpuData => {
    if (!isHalf(dtype)) return ew.fill(ctx, size, dtype, value);
    const bits = dtype === "float16" ? f32ToF16Bits(value) : f32ToBf16Bits(value);
    return ew.fill(ctx, half.wordsFor(dtype, size), "int32", bits | (bits << 16) | 0);
  };
  return {
    name: "webgpu",
    canReadSync: false,
    mixedFloatMatmul: true,
    info,
    sync: () => ctx.sync(),
    runKernel(spec) {
      for (const i of spec.inputs) if (isHalf(i.dtype)) fail("runKernel", `input of dtype ${i.dtype} is packed on webgpu: cast it to float32 first (wgslKernel does)`);
      const outs = spec.outputs.map((n) => ctx.alloc(n));
      ctx.dispatch(spec.code, [...outs.map((o) => o.buffer), ...spec.inputs.map((i) => i.data.buffer), ctx.meta(spec.params)], spec.groups);
      return outs;
    },
    stats: () => ctx.poolStats(),
    trim: () => ctx.trim(),
    storageBytes: (dtype: DType, size: number) => half.wordsFor(dtype, size) * 4,
    upload(values, dtype) {
      const d = ctx.alloc(half.wordsFor(dtype, values.length));
      if (values.length) ctx.upload(d, toWords(values, dtype));
      return d;
    },
    async read(data, dtype, size) {
      return fromWords(await ctx.read(data, half.wordsFor(dtype, size)), dtype, size);
    },
    free: (data) => ctx.release(data),
    fill,
    copy(x, dtype) {
      if (isHalf(dtype)) return half.pack(ctx, x, dtype);
      if (isHalf(x.dtype) && dtype === "float32") return half.unpack(ctx, x);
      return withWide([x], (v) => ew.copy(ctx, v!, dtype));
    },
    write(dst, src) {
      if (isHalf(dst.dtype)) half.writePacked(ctx, dst, src);
      else withWide([src], (s) => ew.write(ctx, dst, s!));
    },
    unary: (op, x, outDtype, attrs) =>
      stored(
        withWide([x], (v) => ew.unary(ctx, op, v!, outDtype, attrs)),
        outDtype,
      ),
    binary: (op, a, b, outDtype) =>
      stored(
        withWide([a, b], (av, bv) => ew.binary(ctx, op, av!, bv!, outDtype)),
        outDtype,
      ),
    where: (c, a, b) =>
      stored(
        withWide([a, b], (av, bv) => ew.where(ctx, c, av!, bv!)),
        a.dtype,
      ),
    reduce: (op, x, axes, outDtype) =>
      sizeOf(x.shape) === 0 && axes.length
        ? emptyReduce(op, x, axes, outDtype)
        : stored(
            withWide([x], (v) => reduce(ctx, op, v!, axes, outDtype)),
            outDtype,
          ),
    argReduce: (op, x, axis) => withWide([x], (v) => argReduce(ctx, op, v!, axis)),
    // matmul reads packed halves itself (weights stay half in memory and in bandwidth).
    matmul: (a, b, outDtype) => stored(matmul(ctx, a, b, outDtype), outDtype),
    softmax: (x, log) =>
      stored(
        withWide([x], (w) => withPacked([w], (v) => softmax(ctx, v!, log))),
        x.dtype,
      ),
    layerNorm: (x, w, b, eps) =>
      stored(
        withWide([x, w, b], (...ws) => withPacked(ws, (v, wv, bv) => layerNorm(ctx, v!, wv, bv, eps))),
        x.dtype,
      ),
    rmsNorm: (x, w, eps) =>
      stored(
        withWide([x, w], (...ws) => withPacked(ws, (v, wv) => rmsNorm(ctx, v!, wv, eps))),
        x.dtype,
      ),
    gather: (x, axis, index) =>
      stored(
        withWide([x], (v) => gather(ctx, v!, axis, index)),
        x.dtype,
      ),
    indexSelect: (x, axis, index) =>
      stored(
        withWide([x], (v) => indexSelect(ctx, v!, axis, index)),
        x.dtype,
      ),
    scatterAdd: (base, axis, index, src) =>
      stored(
        withWide([base, src], (bv, sv) => scatterAdd(ctx, bv!, axis, index, sv!)),
        base.dtype,
      ),
    conv1d: (x, w, b, p) =>
      stored(
        withWide([x, w, b], (...ws) => withPacked(ws, (xv, wv, bv) => conv1d(ctx, xv!, wv!, bv, p))),
        x.dtype,
      ),
    cumulative: (op, x, axis, reverse, exclusive) =>
      stored(
        withWide([x], (v) => cumulative(ctx, op, v!, axis, reverse, exclusive)),
        x.dtype,
      ),
    sort: (x, descending) =>
      sortedValues(
        withWide([x], (w) => withPacked([w], (v) => sortRows(ctx, v!, x.shape[x.shape.length - 1] ?? 1, descending))),
        x.dtype,
      ),
    topk: (x, k, largest) =>
      sortedValues(
        withWide([x], (w) => withPacked([w], (v) => sortRows(ctx, v!, k, largest))),
        x.dtype,
      ),
  };

  function sortedValues(r: { values: GpuData; indices: GpuData }, dtype: DType): { values: GpuData; indices: GpuData } {
    return { values: stored(r.values, dtype), indices: r.indices };
  }

  /** Reducing an empty axis gives the op's identity (sum 0, prod 1, max -inf, ...). */
  function emptyReduce(op: string, x: V, axes: readonly number[], outDtype: DType): GpuData {
    const n = sizeOf(x.shape.filter((_, i) => !axes.includes(i)));
    const v = { sum: 0, mean: NaN, prod: 1, max: -Infinity, min: Infinity, any: 0, all: 1 }[op] ?? 0;
    return fill(n, outDtype, v);
  }
}

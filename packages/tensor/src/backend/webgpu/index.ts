/**
 * The `webgpu` backend: hand-written WGSL kernels for the whole kernel set (see kernels/), on
 * `navigator.gpu` in browsers or the `webgpu` package (Dawn) in Node. Work is enqueued and
 * returns at once; `await t.data()` reads back. Every buffer holds 32-bit words (see wgsl.ts).
 */
/// <reference types="@webgpu/types" />
import { f32ToHalf, halfToF32, isHalf, type DType, type StorageArray } from "../../core/dtype";
import { fail } from "../../core/errors";
import { contiguousStrides, isContiguous, sizeOf } from "../../core/shape";
import type { Backend, View } from "../backend";
import { GpuContext, type GpuData, type PoolStats } from "./context";
import * as ew from "./kernels/elementwise";
import { conv1d } from "./kernels/conv";
import { gather, indexSelect, scatterAdd } from "./kernels/indexing";
import { matmul } from "./kernels/matmul";
import { argReduce, cumulative, reduce } from "./kernels/reduce";
import { layerNorm, rmsNorm, softmax } from "./kernels/rows";
import { sortRows } from "./kernels/sort";
import { wordOf } from "./wgsl";

export interface WebGPUOptions {
  /** A GPU object (navigator.gpu, or `create([])` from the `webgpu` package). */
  gpu?: GPU;
  /** An adapter or device to use instead of requesting one. */
  adapter?: GPUAdapter;
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
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
export interface WgslKernelSpec {
  /** The full shader source (see `wgslShader` for the standard preamble). */
  code: string;
  /** Contiguous input buffers with their dtypes (bound read-only after the outputs). */
  inputs: { data: GpuData; dtype: DType }[];
  /** Output sizes in elements (each a fresh buffer of 32-bit words). */
  outputs: number[];
  /** u32 parameters bound last as `prm`. */
  params: readonly number[];
  /** Workgroups: a count (spread over x and y) or an explicit grid. */
  groups: number | [number, number, number];
}

export interface WebGPUBackend extends Backend<GpuData> {
  readonly info: WebGPUInfo;
  /** Records a custom kernel (for packages with their own fused kernels); returns the output buffers. */
  runKernel(spec: WgslKernelSpec): GpuData[];
  /** Waits until all submitted GPU work has finished. */
  sync(): Promise<void>;
  /** Buffer pool and dispatch counters. */
  stats(): PoolStats;
  /** Frees pooled (unused) buffers. */
  trim(): void;
}

const LIMITS = ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupsPerDimension", "maxStorageBuffersPerShaderStage"] as const;

async function findGpu(opts: WebGPUOptions): Promise<GPU> {
  if (opts.gpu) return opts.gpu;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  fail("webgpu", "no WebGPU here: navigator.gpu is missing. In Node, pass { gpu: create([]) } from the 'webgpu' package (on Linux without a GPU, point VK_ICD_FILENAMES at SwiftShader's ICD).");
}

/** Creates the backend (async: adapter and device requests). */
export async function createWebGPUBackend(opts: WebGPUOptions = {}): Promise<WebGPUBackend> {
  let device = opts.device;
  let adapter = opts.adapter;
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
  return makeBackend(new GpuContext(device, opts.poolLimit), info);
}

/** Host words for upload: f32 for float dtypes (halves decoded), i32 for the rest. */
function toWords(values: StorageArray, dtype: DType): Float32Array | Int32Array {
  if (dtype === "float32") return values as Float32Array;
  if (isHalf(dtype)) return halfToF32(dtype as "float16" | "bfloat16", values as Uint16Array);
  if (dtype === "int32") return values as Int32Array;
  return Int32Array.from(values as Int8Array | Uint8Array);
}

function fromWords(buf: ArrayBuffer, dtype: DType, size: number): StorageArray {
  if (wordOf(dtype) === "f32") {
    const f = new Float32Array(buf, 0, size);
    return isHalf(dtype) ? f32ToHalf(dtype as "float16" | "bfloat16", f) : f;
  }
  const i = new Int32Array(buf, 0, size);
  if (dtype === "int32") return i;
  return dtype === "int8" ? Int8Array.from(i) : Uint8Array.from(i);
}

function makeBackend(ctx: GpuContext, info: WebGPUInfo): WebGPUBackend {
  type V = View<GpuData>;
  /** Kernels that index rows directly need a packed input: copy when the view is strided. */
  const packed = (v: V): { view: V; temp: GpuData | null } => {
    if (isContiguous(v.shape, v.strides)) return { view: v, temp: null };
    const data = ew.copy(ctx, v, v.dtype);
    return { view: { data, dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 }, temp: data };
  };
  const withPacked = <T>(views: (V | null)[], run: (...vs: (V | null)[]) => T): T => {
    const ps = views.map((v) => (v ? packed(v) : null));
    try {
      return run(...ps.map((p) => p?.view ?? null));
    } finally {
      for (const p of ps) if (p?.temp) ctx.release(p.temp);
    }
  };
  return {
    name: "webgpu",
    canReadSync: false,
    info,
    sync: () => ctx.sync(),
    runKernel(spec) {
      const outs = spec.outputs.map((n) => ctx.alloc(n));
      ctx.dispatch(spec.code, [...outs.map((o) => o.buffer), ...spec.inputs.map((i) => i.data.buffer), ctx.meta(spec.params)], spec.groups);
      return outs;
    },
    stats: () => ctx.poolStats(),
    trim: () => ctx.trim(),
    storageBytes: (_dtype: DType, size: number) => size * 4,
    upload(values, dtype) {
      const d = ctx.alloc(values.length);
      if (values.length) ctx.upload(d, toWords(values, dtype));
      return d;
    },
    async read(data, dtype, size) {
      return fromWords(await ctx.read(data, size), dtype, size);
    },
    free: (data) => ctx.release(data),
    fill: (size, dtype, value) => ew.fill(ctx, size, dtype, value),
    copy: (x, dtype) => ew.copy(ctx, x, dtype),
    write: (dst, src) => ew.write(ctx, dst, src),
    unary: (op, x, outDtype, attrs) => ew.unary(ctx, op, x, outDtype, attrs),
    binary: (op, a, b, outDtype) => ew.binary(ctx, op, a, b, outDtype),
    where: (c, a, b) => ew.where(ctx, c, a, b),
    reduce: (op, x, axes, outDtype) => (sizeOf(x.shape) === 0 && axes.length ? emptyReduce(op, x, axes, outDtype) : reduce(ctx, op, x, axes, outDtype)),
    argReduce: (op, x, axis) => argReduce(ctx, op, x, axis),
    matmul: (a, b, outDtype) => matmul(ctx, a, b, outDtype),
    softmax: (x, log) => withPacked([x], (v) => softmax(ctx, v!, log)),
    layerNorm: (x, w, b, eps) => withPacked([x, w, b], (v, wv, bv) => layerNorm(ctx, v!, wv, bv, eps)),
    rmsNorm: (x, w, eps) => withPacked([x, w], (v, wv) => rmsNorm(ctx, v!, wv, eps)),
    gather: (x, axis, index) => gather(ctx, x, axis, index),
    indexSelect: (x, axis, index) => indexSelect(ctx, x, axis, index),
    scatterAdd: (base, axis, index, src) => scatterAdd(ctx, base, axis, index, src),
    conv1d: (x, w, b, p) => withPacked([x, w, b], (xv, wv, bv) => conv1d(ctx, xv!, wv!, bv, p)),
    cumulative: (op, x, axis, reverse, exclusive) => cumulative(ctx, op, x, axis, reverse, exclusive),
    sort: (x, descending) => withPacked([x], (v) => sortRows(ctx, v!, x.shape[x.shape.length - 1] ?? 1, descending)),
    topk: (x, k, largest) => withPacked([x], (v) => sortRows(ctx, v!, k, largest)),
  };

  /** Reducing an empty axis gives the op's identity (sum 0, prod 1, max -inf, ...). */
  function emptyReduce(op: string, x: V, axes: readonly number[], outDtype: DType): GpuData {
    const n = sizeOf(x.shape.filter((_, i) => !axes.includes(i)));
    const v = { sum: 0, mean: NaN, prod: 1, max: -Infinity, min: Infinity, any: 0, all: 1 }[op] ?? 0;
    return ew.fill(ctx, n, outDtype, v);
  }
}

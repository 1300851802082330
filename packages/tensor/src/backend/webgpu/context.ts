/**
 * The WebGPU device context: buffers (pooled), pipelines (cached by generated source), batched
 * dispatches (one compute pass, submitted every MAX_PENDING dispatches or before a read or an
 * upload), readback, and a device-side error flag that kernels raise for out-of-range indices
 * (the error surfaces at the next read, since a GPU cannot throw).
 */
/// <reference types="@webgpu/types" />
import { fail } from "../../core/errors";

/** A tensor's storage on the GPU: `size` 32-bit words. */
export interface GpuData {
  buffer: GPUBuffer;
  size: number;
}

const MAX_PENDING = 64;
/** Workgroups per grid dimension (the WebGPU default limit). */
const MAX_GROUPS = 65535;
export const WG = 256;

/** Error codes kernels write into the flag buffer. */
export const GPU_ERRORS: Record<number, string> = {
  1: "gather: an index is out of range (detected on the GPU)",
  2: "indexSelect: an index is out of range (detected on the GPU)",
  3: "scatterAdd: an index is out of range (detected on the GPU)",
};

export interface PoolStats {
  pooledBuffers: number;
  pooledBytes: number;
  liveBuffers: number;
  dispatches: number;
  submits: number;
}

export class GpuContext {
  private readonly pool = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  private liveBuffers = 0;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  /** Uniform/meta buffers of unsubmitted work, destroyed after their submit. */
  private transient: GPUBuffer[] = [];
  readonly errorFlag: GPUBuffer;
  lost: string | null = null;
  /** The first validation/out-of-memory error the device reported since the last read. */
  private deviceError: string | null = null;
  stats = { dispatches: 0, submits: 0 };

  constructor(
    readonly device: GPUDevice,
    /** Bytes kept in the pool of freed buffers before extra ones are destroyed. */
    private readonly poolLimit = 512 * 1024 * 1024,
  ) {
    this.errorFlag = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
    // A kernel that fails validation produces no output: remember why, and throw at the next read.
    device.addEventListener("uncapturederror", (e) => {
      this.deviceError ??= (e as GPUUncapturedErrorEvent).error.message;
    });
  }

  private check(op: string): void {
    if (this.lost) fail(op, `the WebGPU device was lost (${this.lost})`);
  }

  // --- buffers -----------------------------------------------------------------------------------

  /** A storage buffer of `words` 32-bit words (contents undefined: kernels overwrite it). */
  alloc(words: number): GpuData {
    this.check("webgpu");
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (words * 4 > limit) {
      fail(
        "webgpu",
        `a tensor of ${words} elements (${((words * 4) / 2 ** 20).toFixed(1)} MiB) exceeds this device's maxStorageBufferBindingSize (${(limit / 2 ** 20).toFixed(1)} MiB)`,
      );
    }
    const bytes = Math.min(bucket(words * 4), Math.max(limit, 4));
    const free = this.pool.get(bytes);
    let buffer = free?.pop();
    if (buffer) this.pooledBytes -= bytes;
    else buffer = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.liveBuffers++;
    return { buffer, size: words };
  }

  release(d: GpuData): void {
    this.liveBuffers--;
    const bytes = d.buffer.size;
    if (this.pooledBytes + bytes > this.poolLimit) {
      this.flush(); // pending work may still use it
      d.buffer.destroy();
      return;
    }
    let list = this.pool.get(bytes);
    if (!list) this.pool.set(bytes, (list = []));
    list.push(d.buffer);
    this.pooledBytes += bytes;
  }

  /** Frees every pooled buffer. */
  trim(): void {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.pooledBytes = 0;
  }

  poolStats(): PoolStats {
    let n = 0;
    for (const l of this.pool.values()) n += l.length;
    return { pooledBuffers: n, pooledBytes: this.pooledBytes, liveBuffers: this.liveBuffers, ...this.stats };
  }

  /** Writes words into a buffer. Pending dispatches are submitted first: queue writes run ahead of unsubmitted work. */
  upload(d: GpuData, words: ArrayBufferView): void {
    this.flush();
    this.device.queue.writeBuffer(d.buffer, 0, words.buffer, words.byteOffset, words.byteLength);
  }

  /** Reads `words` 32-bit words back (and raises any error a kernel flagged). */
  async read(d: GpuData, words: number): Promise<ArrayBuffer> {
    this.check("read");
    const bytes = Math.max(4, words * 4);
    const staging = this.device.createBuffer({ size: bytes + 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    const enc = this.encoder ?? this.device.createCommandEncoder();
    this.encoder = null;
    if (words > 0) enc.copyBufferToBuffer(d.buffer, 0, staging, 0, words * 4);
    enc.copyBufferToBuffer(this.errorFlag, 0, staging, bytes, 4);
    this.submit(enc);
    await staging.mapAsync(GPUMapMode.READ);
    const all = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    if (this.deviceError) {
      const msg = this.deviceError;
      this.deviceError = null;
      fail("webgpu", `a GPU command failed, so results since the last read are invalid: ${msg}`);
    }
    const code = new Uint32Array(all, bytes, 1)[0];
    if (code !== 0) {
      this.device.queue.writeBuffer(this.errorFlag, 0, new Uint32Array([0]));
      fail("webgpu", GPU_ERRORS[code] ?? `a kernel reported error ${code}`);
    }
    return all.slice(0, words * 4);
  }

  // --- dispatch ----------------------------------------------------------------------------------

  pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /** A read-only storage buffer of u32 metadata (shapes, strides, offsets, counts). */
  meta(values: readonly number[]): GPUBuffer {
    const words = Math.max(values.length, 1);
    const b = this.device.createBuffer({ size: words * 4, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    const view = new Uint32Array(b.getMappedRange());
    for (let i = 0; i < values.length; i++) view[i] = values[i] >>> 0;
    b.unmap();
    this.transient.push(b);
    return b;
  }

  /**
   * Records a dispatch of `code` with storage bindings 0..n in order (the last binding is
   * conventionally the meta buffer), over `groups` workgroups laid out in a 2-D grid, or over an
   * explicit [x, y, z] grid.
   */
  dispatch(code: string, bindings: GPUBuffer[], groups: number | [number, number, number]): void {
    this.check("webgpu");
    const [gx, gy, gz] = typeof groups === "number" ? grid(groups) : groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const pipeline = this.pipeline(code);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(gx, gy, gz);
    this.stats.dispatches++;
    if (++this.pending >= MAX_PENDING) this.flush();
  }

  /** Copies words between buffers (outside any compute pass, in order with dispatches). */
  copy(src: GPUBuffer, srcWord: number, dst: GPUBuffer, dstWord: number, words: number): void {
    if (words === 0) return;
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcWord * 4, dst, dstWord * 4, words * 4);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Submits all recorded work. */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      const enc = this.encoder;
      this.encoder = null;
      this.submit(enc);
    }
  }

  private submit(enc: GPUCommandEncoder): void {
    this.device.queue.submit([enc.finish()]);
    this.stats.submits++;
    this.pending = 0;
    // Destroying after submit is allowed: the buffers live until the submitted work is done.
    for (const b of this.transient) b.destroy();
    this.transient = [];
  }

  /** Resolves when all submitted work has finished (for timing). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }
}

/** Buffer sizes are pooled in buckets: 256-byte granularity, then 1/8 steps above 64 KiB. */
function bucket(bytes: number): number {
  const b = Math.max(bytes, 4);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

/** Splits a workgroup count over x and y so neither exceeds the limit. */
function grid(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

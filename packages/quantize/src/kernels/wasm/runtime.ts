/**
 * The quantized matrix-vector kernels on WebAssembly SIMD (wasm/qgemv.ts). Prepared weights stay
 * resident in the module's memory (they are immutable), up to a budget; past it the resident set
 * is dropped and refilled. Where WebAssembly SIMD is missing, `qgemvWasm()` returns null and
 * callers use the TypeScript reference.
 */
import type { PreparedLinear } from "../prepared";
import { QGEMV_WASM_PLAIN } from "./binary";

interface Exports {
  group_sums(x: number, xs: number, K: number, G: number): void;
  gemv_q8(x: number, q: number, s: number, y: number, K: number, G: number, n0: number, n1: number): void;
  gemv_q4(x: number, q: number, table: number, s: number, z: number, xs: number, y: number, K: number, G: number, n0: number, n1: number): void;
  dequant_rows(kind: number, q: number, table: number, s: number, z: number, out: number, K: number, G: number, n0: number, n1: number): void;
  gemv_u4(xe: number, xo: number, q: number, s: number, z: number, xs: number, y: number, K: number, G: number, n0: number, n1: number): void;
}

const PAGE = 65536;
const BASE = PAGE;
/** Bytes of prepared weights kept resident (codes, scales, zeros, tables). */
let budget = 1 << 30;

function decode(b64: string): Uint8Array<ArrayBuffer> {
  if (typeof Buffer !== "undefined") return new Uint8Array(Buffer.from(b64, "base64"));
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

interface Resident {
  codes: number;
  scales: number;
  zeros: number;
  table: number;
}

class QgemvKernels {
  private readonly resident = new Map<number, Resident>();
  private end = BASE;
  constructor(
    private readonly ex: Exports,
    private readonly memory: WebAssembly.Memory,
  ) {}

  private grow(to: number): Float32Array {
    const need = Math.ceil(to / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) this.memory.grow(need);
    return new Float32Array(this.memory.buffer);
  }

  private place(w: PreparedLinear): Resident {
    const hit = this.resident.get(w.id);
    if (hit) return hit;
    const bytes = w.codes.length + 4 * (w.scales.length + (w.zeros?.length ?? 0) + (w.table?.length ?? 0)) + 64;
    if (this.end - BASE + bytes > budget) {
      this.resident.clear();
      this.end = BASE;
    }
    const align = (v: number) => Math.ceil(v / 16) * 16;
    const codes = align(this.end);
    const scales = align(codes + w.codes.length);
    const zeros = w.zeros ? align(scales + 4 * w.scales.length) : 0;
    const table = w.table ? align((zeros || scales + 4 * w.scales.length) + 4 * (w.zeros?.length ?? 0)) : 0;
    const end = align((table || zeros || scales) + 4 * (w.table?.length ?? w.zeros?.length ?? w.scales.length));
    const f32 = this.grow(end);
    new Uint8Array(this.memory.buffer).set(w.codes, codes);
    f32.set(w.scales, scales / 4);
    if (w.zeros) f32.set(w.zeros, zeros / 4);
    if (w.table) f32.set(w.table, table / 4);
    const r = { codes, scales, zeros, table };
    if (bytes <= budget) {
      this.resident.set(w.id, r);
      this.end = end;
    }
    return r;
  }

  /** y [M, N] = x [M, K] W^T for prepared q8 / q4 weights. */
  run(w: PreparedLinear, x: Float32Array, M: number, y: Float32Array): void {
    const r = this.place(w);
    const { N, K, G } = w;
    const scratch = Math.ceil(Math.max(this.end, r.table + 2048, r.scales + 4 * w.scales.length) / 16) * 16;
    const xOff = scratch;
    const xsOff = xOff + 4 * K;
    const splitOff = xsOff + 4 * (K / G) + 16; // u4: x at even positions, then at odd ones
    const yOff = splitOff + 4 * K + 16;
    const f32 = this.grow(yOff + 4 * N);
    for (let m = 0; m < M; m++) {
      const xm = x.subarray(m * K, (m + 1) * K);
      f32.set(xm, xOff / 4);
      if (w.kind === "q8") this.ex.gemv_q8(xOff, r.codes, r.scales, yOff, K, G, 0, N);
      else if (w.kind === "u4") {
        const h = K / 2;
        const e = splitOff / 4;
        for (let i = 0; i < h; i++) {
          f32[e + i] = xm[2 * i];
          f32[e + h + i] = xm[2 * i + 1];
        }
        this.ex.group_sums(xOff, xsOff, K, G);
        this.ex.gemv_u4(splitOff, splitOff + 2 * K, r.codes, r.scales, r.zeros, xsOff, yOff, K, G, 0, N);
      } else {
        if (w.zeros) this.ex.group_sums(xOff, xsOff, K, G);
        this.ex.gemv_q4(xOff, r.codes, r.table, r.scales, r.zeros, xsOff, yOff, K, G, 0, N);
      }
      y.set(new Float32Array(this.memory.buffer, yOff, N), m * N);
    }
  }

  /** The float32 weight [N, K] of a prepared q8 / u4 / q4 weight, decoded from its resident codes. */
  dequantize(w: PreparedLinear): Float32Array {
    const r = this.place(w);
    const { N, K, G } = w;
    const outOff = Math.ceil(Math.max(this.end, r.table + 2048, r.scales + 4 * w.scales.length) / 16) * 16;
    this.grow(outOff + 4 * N * K);
    this.ex.dequant_rows(w.kind === "q8" ? 0 : 1, r.codes, r.table, r.scales, r.zeros, outOff, K, G, 0, N);
    return new Float32Array(this.memory.buffer, outOff, N * K).slice();
  }

  forget(w: PreparedLinear): void {
    this.resident.delete(w.id);
  }
}

let instance: QgemvKernels | null | undefined;
let enabled = true;

/** Use (default) or bypass the WebAssembly kernels; the TypeScript reference stays the oracle. */
export function setQuantizedWasm(on: boolean): void {
  enabled = on;
}

/** Sets the byte budget of prepared weights kept in the kernels' memory (default 1 GiB). */
export function setQuantizedWeightBudget(bytes: number): void {
  if (!(bytes >= 0)) throw new RangeError(`setQuantizedWeightBudget: bytes must be >= 0, got ${bytes}`);
  budget = bytes;
}

export function qgemvWasm(): QgemvKernels | null {
  if (!enabled) return null;
  if (instance !== undefined) return instance;
  if (typeof WebAssembly === "undefined") return (instance = null);
  const bytes = decode(QGEMV_WASM_PLAIN);
  if (!WebAssembly.validate(bytes)) return (instance = null);
  try {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, abort: () => { throw new Error("wasm abort"); } } }).exports as unknown as Exports;
    instance = new QgemvKernels(ex, memory);
  } catch {
    instance = null;
  }
  return instance;
}

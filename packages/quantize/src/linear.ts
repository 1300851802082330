/**
 * Weight-only quantized linear layers: y = x W^T + b with W a QuantizedTensor [out, in].
 *  - few rows (decoding, M <= 4) on cpu: the fused kernels read the packed codes and decode them
 *    inside the dot product (int8: 1 byte per weight; int4/NF4/FP4: half a byte), WebAssembly
 *    SIMD with a TypeScript reference;
 *  - on webgpu the same in WGSL (kernels/wgsl.ts: codes stay packed in GPU memory);
 *  - otherwise (prefill, other backends, formats without a fused kernel): W is dequantized to
 *    float32 for the call (WASM / WGSL where a kernel fits) and multiplied by the backend's GEMM.
 * Not differentiable through the weight (it is frozen); gradients flow to x.
 */
import { add, linear, reshape, tensor, tidy, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { prepareLinear, type PreparedLinear } from "./kernels/prepared";
import { qgemvReference } from "./kernels/reference";
import { qgemvWasm } from "./kernels/wasm/runtime";
import { dequantizeWgsl, gemvWgsl, gpuWeight, type GpuWeight } from "./kernels/wgsl";
import type { QuantizedTensor } from "./quantized-tensor";

const FUSED_MAX_ROWS = 4;

export class QuantizedLinearWeight {
  readonly prepared: PreparedLinear;
  /** Packed copies on GPU backends, made on first use. */
  private readonly gpu = new Map<string, GpuWeight>();
  constructor(readonly q: QuantizedTensor) {
    this.prepared = prepareLinear(q);
  }

  /** The weight's buffers on a WebGPU backend (created once). */
  onGpu(backend: string): GpuWeight {
    let g = this.gpu.get(backend);
    if (!g) this.gpu.set(backend, (g = gpuWeight(this.prepared, backend)));
    return g;
  }

  /** Frees GPU copies (the packed cpu codes stay). */
  dispose(): void {
    for (const g of this.gpu.values()) for (const t of Object.values(g)) t.dispose();
    this.gpu.clear();
  }

  get outFeatures(): number {
    return this.prepared.N;
  }

  get inFeatures(): number {
    return this.prepared.K;
  }

  /** Whether few-row products run a fused kernel (else dequantize + GEMM). */
  get fused(): boolean {
    return this.prepared.kind !== "dequantize";
  }
}

/** x [..., in] -> [..., out] with a quantized weight. */
export function quantizedLinear(x: Tensor, w: QuantizedLinearWeight, bias?: Tensor | null): Tensor {
  const { N, K } = w.prepared;
  if (x.shape[x.rank - 1] !== K) fail("quantizedLinear", `x [${x.shape}] has ${x.shape[x.rank - 1]} features; the weight [${N}, ${K}] expects ${K}`);
  const M = x.size / K;
  return tidy(() => {
    let y: Tensor;
    if (w.fused && x.backend === "cpu" && M <= FUSED_MAX_ROWS && x.dtype === "float32") {
      const xv = x.dataSync() as Float32Array;
      const out = new Float32Array(M * N);
      const k = qgemvWasm();
      if (k) k.run(w.prepared, xv, M, out);
      else for (let m = 0; m < M; m++) qgemvReference(w.prepared, xv.subarray(m * K, (m + 1) * K), out.subarray(m * N, (m + 1) * N));
      y = reshape(tensor(out, { shape: [M, N] }), [...x.shape.slice(0, -1), N]);
      return bias ? add(y, bias) : y;
    }
    if (w.fused && x.backend === "webgpu" && x.dtype === "float32") {
      const g = w.onGpu(x.backend);
      if (M <= FUSED_MAX_ROWS) {
        y = reshape(gemvWgsl(w.prepared, g, reshape(x, [M, K]), M), [...x.shape.slice(0, -1), N]);
        return bias ? add(y, bias) : y;
      }
      return linear(x, dequantizeWgsl(w.prepared, g), bias ?? null);
    }
    return linear(x, dequantizeWeight(w, x.backend), bias ?? null);
  });
}

/** The float32 weight [out, in] for a GEMM: decoded by the WASM kernel where one fits, else in TypeScript. */
function dequantizeWeight(w: QuantizedLinearWeight, backend: string): Tensor {
  const k = w.fused ? qgemvWasm() : null;
  if (!k) return w.q.dequantize({ backend });
  return tensor(k.dequantize(w.prepared), { shape: [w.prepared.N, w.prepared.K], backend });
}

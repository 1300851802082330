/**
 * Weight-only quantized linear layers: y = x W^T + b with W a QuantizedTensor [out, in].
 *  - few rows (decoding and short prompts, M <= CPU_FUSED_MAX_ROWS = 32) on cpu: the fused kernels
 *    read the packed codes and decode them inside the dot product (int8: 1 byte per weight;
 *    int4/NF4/FP4: half a byte), WebAssembly SIMD with a TypeScript reference;
 *  - on webgpu the same in WGSL for M <= FUSED_MAX_ROWS = 4 (kernels/wgsl.ts: codes stay packed
 *    in GPU memory);
 *  - otherwise (prefill, other backends, formats without a fused kernel): W is dequantized to
 *    float32 for the call (WASM / WGSL where a kernel fits) and multiplied by the backend's GEMM.
 * Not differentiable through the weight (it is frozen); gradients flow to x.
 */
import { add, fromNdarray, getKernel, linear, registerKernel, reshape, tensor, tidy, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { prepareLinear, type PreparedLinear } from "./kernels/prepared";
import { qgemvReference } from "./kernels/reference";
import { CPU_FUSED_MAX_ROWS, QUANTIZED_LINEAR, type QuantizedLinearKernel } from "./kernels/registry";
import { qgemvWasm } from "./kernels/wasm/runtime";
import type { QuantizedTensor } from "./quantized-tensor";

export class QuantizedLinearWeight {
  readonly prepared: PreparedLinear;
  /** Copies of the packed weight on other backends (a kernel's buffers), made on first use. */
  private readonly onDevice = new Map<string, Record<string, Tensor>>();
  constructor(readonly q: QuantizedTensor) {
    this.prepared = prepareLinear(q);
  }

  /** The weight's buffers on `backend`, made once by `make` (kept: freed by dispose()). */
  deviceBuffers<B extends Record<string, Tensor>>(backend: string, make: () => B): B {
    let g = this.onDevice.get(backend);
    if (!g) this.onDevice.set(backend, (g = make()));
    return g as B;
  }

  /** Frees device copies (the packed cpu codes stay). */
  dispose(): void {
    for (const g of this.onDevice.values()) for (const t of Object.values(g)) t.dispose();
    this.onDevice.clear();
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

export interface QuantizedLinearOptions {
  /**
   * 'fused': the backend's registered kernel even under the 'reference' kernel preference (on
   * cpu its TypeScript loops then run instead of WebAssembly); 'reference': dequantize + the
   * backend's GEMM. Default: the kernel where one is registered and the preference is 'fast'.
   */
  implementation?: "fused" | "reference";
}

/** x [..., in] -> [..., out] with a quantized weight. */
export function quantizedLinear(x: Tensor, w: QuantizedLinearWeight, bias?: Tensor | null, opts: QuantizedLinearOptions = {}): Tensor {
  const { N, K } = w.prepared;
  if (x.shape[x.rank - 1] !== K) fail("quantizedLinear", `x [${x.shape}] has ${x.shape[x.rank - 1]} features; the weight [${N}, ${K}] expects ${K}`);
  const M = x.size / K;
  return tidy(() => {
    const ignorePreference = opts.implementation === "fused";
    const wanted = w.fused && x.dtype === "float32" && opts.implementation !== "reference";
    // kernelStats counts the kernel only when it ran (as @tessera/ssm's kernels): one that declines
    // (more rows than it fuses) leaves the call to dequantize + GEMM, counted under neither;
    // no kernel at all counts as the reference.
    const kernel = wanted ? getKernel<QuantizedLinearKernel>(QUANTIZED_LINEAR, x.backend, { ignorePreference, count: false }) : undefined;
    const y = kernel?.(reshape(x, [M, K]), w, M);
    if (wanted && (y || !kernel)) getKernel(QUANTIZED_LINEAR, x.backend, { ignorePreference });
    if (y) {
      const out = reshape(y, [...x.shape.slice(0, -1), N]);
      return bias ? add(out, bias) : out;
    }
    return linear(x, dequantizeWeight(w, x.backend), bias ?? null);
  });
}

/**
 * The cpu kernel: up to CPU_FUSED_MAX_ROWS rows read the packed codes inside the dot product
 * (WebAssembly SIMD, or the TypeScript reference under the 'reference' kernel preference).
 */
const cpuLinear: QuantizedLinearKernel = (x, w, M) => {
  if (M > CPU_FUSED_MAX_ROWS) return null;
  const { N, K } = w.prepared;
  const xv = x.dataSync() as Float32Array;
  const out = new Float32Array(M * N);
  const k = qgemvWasm();
  if (k) k.run(w.prepared, xv, M, out);
  else for (let m = 0; m < M; m++) qgemvReference(w.prepared, xv.subarray(m * K, (m + 1) * K), out.subarray(m * N, (m + 1) * N));
  return tensor(out, { shape: [M, N], backend: x.backend });
};
registerKernel(QUANTIZED_LINEAR, "cpu", cpuLinear);

/** The float32 weight [out, in] for a GEMM: decoded by the WASM kernel where one fits, else in TypeScript. */
function dequantizeWeight(w: QuantizedLinearWeight, backend: string): Tensor {
  const k = w.fused ? qgemvWasm() : null;
  if (!k) return w.q.dequantize({ backend });
  const { N, K } = w.prepared;
  const values = k.dequantize(w.prepared); // a fresh array, ours alone
  // On the cpu the tensor adopts it (no second copy of N x K floats: ~35 ms at 4096 x 4096).
  if (backend === "cpu") return fromNdarray({ data: values, shape: [N, K], stride: [K, 1], offset: 0 });
  return tensor(values, { shape: [N, K], backend });
}

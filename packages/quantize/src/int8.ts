/**
 * 8-bit activations and weights.
 *  - int8Matmul(a, b): exact int8 x int8 -> int32 products c = a b^T (b in nn.Linear layout),
 *    WebAssembly SIMD (i32x4.dot_i16x8_s, threaded) with a TypeScript reference.
 *  - llmInt8Linear(x, w, threshold): LLM.int8() (Dettmers et al. 2022, bitsandbytes
 *    `Linear8bitLt` with int8 weights): input feature columns holding any |x| >= threshold
 *    (default 6.0) are multiplied in float against the dequantized weight columns; the rest run
 *    as int8 x int8 with vector-wise scales (row absmax of x, per-output-channel absmax of W):
 *      y = (x_o W_o^T) + sx sw^T * (round(x_r / sx) round(W_r / sw)^T)
 */
import { getKernel, kernelBackends, registerKernel, tensor, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { INT8_MATMUL, type Int8MatmulKernel } from "./kernels/registry";
import { qgemvWasm } from "./kernels/wasm/runtime";
import type { QuantizedTensor } from "./quantized-tensor";
import { roundHalfEven } from "./round";

export function int8MatmulReference(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * b[n * K + k];
      c[m * N + n] = s;
    }
  return c;
}

/** c [M, N] = a [M, K] b [N, K]^T exactly. */
export function int8Matmul(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
  if (a.length !== M * K || b.length !== N * K) fail("int8Matmul", `a holds ${a.length} values and b ${b.length}; [${M}, ${K}] and [${N}, ${K}] need ${M * K} and ${N * K}`);
  if (K > 133_000) fail("int8Matmul", `K = ${K} could overflow int32 sums (127^2 K > 2^31)`);
  const k = qgemvWasm();
  return k ? k.gemmS8(a, b, M, N, K) : int8MatmulReference(a, b, M, N, K);
}

/**
 * The same on tensors: a [M, K] and b [N, K], both int8 on one backend -> int32 [M, N]
 * (cpu: the WebAssembly kernel; webgpu: a WGSL kernel).
 */
export function int8MatmulTensor(a: Tensor, b: Tensor): Tensor {
  const op = "int8MatmulTensor";
  if (a.dtype !== "int8" || b.dtype !== "int8") fail(op, `operands must be int8, got ${a.dtype} [${a.shape}] and ${b.dtype} [${b.shape}]`);
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[1]) fail(op, `a [${a.shape}] and b [${b.shape}] must be [M, K] and [N, K]`);
  if (a.backend !== b.backend) fail(op, `a lives on '${a.backend}' and b on '${b.backend}'`);
  // An exact integer product has no composed float reference: the kernel is looked up even under
  // the 'reference' preference (the cpu kernel then runs its TypeScript loops).
  const kernel = getKernel<Int8MatmulKernel>(INT8_MATMUL, a.backend, { ignorePreference: true });
  if (!kernel)
    fail(op, `no int8 kernel for backend '${a.backend}' (registered for: ${kernelBackends(INT8_MATMUL).join(", ") || "none"}; import "@tessera/quantize/webgpu" for webgpu)`);
  return kernel(a, b);
}

registerKernel<Int8MatmulKernel>(INT8_MATMUL, "cpu", (a, b) => {
  const [M, K] = a.shape;
  const N = b.shape[0];
  return tensor(int8Matmul(a.dataSync() as Int8Array, b.dataSync() as Int8Array, M, N, K), { shape: [M, N], dtype: "int32", backend: a.backend });
});

export interface LLMInt8Result {
  y: Tensor;
  /** Input columns computed in float. */
  outliers: number[];
}

/**
 * x [..., K] (cpu, float32) times an int8 symmetric per-output-channel weight [N, K]; columns of x
 * with any |value| >= threshold stay in float.
 */
export function llmInt8Linear(x: Tensor, w: QuantizedTensor, opts: { threshold?: number; bias?: Tensor | null } = {}): LLMInt8Result {
  const f = w.format;
  if (!(f.type === "int" && f.bits === 8 && f.symmetric && f.granularity.kind === "channel" && (f.granularity.axis === 0 || f.granularity.axis === -2)) || w.shape.length !== 2) {
    fail("llmInt8Linear", "the weight must be int8 symmetric per output channel [out, in] (granularity { kind: 'channel', axis: 0 })");
  }
  const [N, K] = w.shape;
  if (x.shape[x.rank - 1] !== K) fail("llmInt8Linear", `x [${x.shape}] has ${x.shape[x.rank - 1]} features; the weight [${N}, ${K}] expects ${K}`);
  if (!x.canReadSync) fail("llmInt8Linear", `x lives on '${x.backend}'; LLM.int8 runs on cpu`);
  const threshold = opts.threshold ?? 6;
  const xv = x.dataSync();
  const M = xv.length / K;
  const outlier = new Uint8Array(K);
  for (let i = 0; i < xv.length; i++) if (Math.abs(xv[i]) >= threshold) outlier[i % K] = 1;
  const outliers = [...outlier.keys()].filter((k) => outlier[k]);
  const wq = new Int8Array(w.codes());
  const sw = w.scales!;
  // Regular columns: row-wise absmax int8 activations (outlier columns zeroed on both sides).
  const xq = new Int8Array(M * K);
  const sx = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    let amax = 0;
    for (let k = 0; k < K; k++) if (!outlier[k]) amax = Math.max(amax, Math.abs(xv[m * K + k]));
    sx[m] = amax > 0 ? Math.fround(amax / 127) : 1;
    for (let k = 0; k < K; k++) xq[m * K + k] = outlier[k] ? 0 : roundHalfEven(Math.fround(xv[m * K + k] / sx[m]));
  }
  const c = int8Matmul(xq, wq, M, N, K);
  const y = new Float32Array(M * N);
  const b = opts.bias?.dataSync();
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let v = c[m * N + n] * sx[m] * sw[n];
      for (const k of outliers) v += xv[m * K + k] * wq[n * K + k] * sw[n]; // float path, dequantized weight columns
      y[m * N + n] = b ? v + b[n] : v;
    }
  return { y: tensor(y, { shape: [...x.shape.slice(0, -1), N] }), outliers };
}

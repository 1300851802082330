/**
 * The quantized linear kernels in WGSL (webgpu backend). Codes travel as 32-bit words (four
 * int8 codes, or eight 4-bit codes with element 0 in the high nibble of the first byte), so the
 * weight stays packed in GPU memory.
 *  - gemv: one workgroup of 64 per (output row n, input row m): each invocation decodes words
 *    k = lid, lid + 64, ... and accumulates s[n,g] (sum x v - z sum x) per word (a word never
 *    spans two groups: G is a multiple of 8), then a tree reduction in workgroup memory;
 *  - dequantize: one invocation per word writes its 4 or 8 float32 weights (prefill then runs
 *    the backend's GEMM).
 */
import { keep, linear, tensor, type Tensor } from "@tessera/tensor";
import { WGSL_PRELUDE, wgslKernel } from "@tessera/tensor/webgpu";
import type { PreparedLinear } from "./prepared";
import { FUSED_MAX_ROWS, type QuantizedLinearKernel } from "./registry";

/** The prepared weight's buffers on one GPU backend, made once and kept. */
export type GpuWeight = {
  words: Tensor;
  scales: Tensor;
  zeros: Tensor;
  table: Tensor;
};

export function gpuWeight(w: PreparedLinear, backend: string): GpuWeight {
  const bytes = new Uint8Array(Math.ceil(w.codes.length / 4) * 4);
  bytes.set(w.codes);
  const table = new Float32Array(16);
  if (w.table) for (let u = 0; u < 16; u++) table[u] = w.table[2 * (u << 4)]; // v(hi) of byte u << 4 = v(u)
  return {
    words: keep(tensor(new Int32Array(bytes.buffer), { dtype: "int32", backend })),
    scales: keep(tensor(w.scales, { backend })),
    zeros: keep(tensor(w.zeros ?? new Float32Array(1), { backend })),
    table: keep(tensor(table, { backend })),
  };
}

const COMMON = /* wgsl */ `
// prm: [0 N, 1 K, 2 G, 3 M, 4 bits (8 or 4), 5 hasZero]
fn code_value(word: u32, j: u32) -> f32 {
  if (prm[4] == 8u) { return f32(bitcast<i32>(word << (24u - 8u * j)) >> 24u); }
  let byte = (word >> (8u * (j / 2u))) & 0xffu;
  let nib = select(byte & 15u, byte >> 4u, j % 2u == 0u);
  return table[nib];
}
fn per_word() -> u32 { return select(8u, 4u, prm[4] == 8u); }
`;

const GEMV = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> words: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(4) var<storage, read> zeros: array<f32>;
@group(0) @binding(5) var<storage, read> table: array<f32>;
@group(0) @binding(6) var<storage, read> prm: array<u32>;
${WGSL_PRELUDE}
${COMMON}
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  let m = wid.z;
  let N = prm[0]; let K = prm[1]; let G = prm[2];
  var acc = 0.0;
  if (n < N) {
    let pw = per_word();
    let wordsPerRow = K / pw;
    let groups = K / G;
    for (var k = lid; k < wordsPerRow; k += 64u) {
      let word = words[n * wordsPerRow + k];
      let k0 = k * pw;
      var dot = 0.0;
      var xs = 0.0;
      for (var j = 0u; j < pw; j++) {
        let xv = x[m * K + k0 + j];
        dot += xv * code_value(word, j);
        xs += xv;
      }
      let g = n * groups + k0 / G;
      if (prm[5] != 0u) { dot -= zeros[g] * xs; }
      acc += scales[g] * dot;
    }
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u && n < N) { y[m * N + n] = red[0]; }
}`;

const DEQUANT = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read> words: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> zeros: array<f32>;
@group(0) @binding(4) var<storage, read> table: array<f32>;
@group(0) @binding(5) var<storage, read> prm: array<u32>;
${WGSL_PRELUDE}
${COMMON}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  let N = prm[0]; let K = prm[1]; let G = prm[2];
  let pw = per_word();
  if (i >= N * K / pw) { return; }
  let word = words[i];
  let e0 = i * pw;
  let n = e0 / K;
  let g = n * (K / G) + (e0 % K) / G;
  let z = select(0.0, zeros[g], prm[5] != 0u);
  for (var j = 0u; j < pw; j++) { w[e0 + j] = (code_value(word, j) - z) * scales[g]; }
}`;

/** [x, y] workgroup grid for `count` workgroups (at most 65535 per dimension). */
function grid(count: number, z = 1): [number, number, number] {
  const x = Math.min(count, 65535);
  return [x, Math.ceil(count / x), z];
}

const params = (w: PreparedLinear, M: number) => [w.N, w.K, w.G, M, w.kind === "q8" ? 8 : 4, w.zeros ? 1 : 0];

/** y [M, N] = x [M, K] W^T on the GPU (x contiguous float32 on the weight's backend). */
export function gemvWgsl(w: PreparedLinear, g: GpuWeight, x: Tensor, M: number): Tensor {
  const [y] = wgslKernel({ code: GEMV, inputs: [x, g.words, g.scales, g.zeros, g.table], outputs: [{ shape: [M, w.N] }], params: params(w, M), groups: grid(w.N, M) });
  return y;
}

/** The float32 weight [N, K] decoded on the GPU. */
export function dequantizeWgsl(w: PreparedLinear, g: GpuWeight): Tensor {
  const words = (w.N * w.K) / (w.kind === "q8" ? 4 : 8);
  const [out] = wgslKernel({
    code: DEQUANT,
    inputs: [g.words, g.scales, g.zeros, g.table],
    outputs: [{ shape: [w.N, w.K] }],
    params: params(w, 1),
    groups: grid(Math.ceil(words / 64)),
  });
  return out;
}

/** The registered webgpu kernel: gemv for few rows, else decode on the GPU and the backend's GEMM. */
export const webgpuLinear: QuantizedLinearKernel = (x, w, M) => {
  const g = w.deviceBuffers(x.backend, () => gpuWeight(w.prepared, x.backend));
  return M <= FUSED_MAX_ROWS ? gemvWgsl(w.prepared, g, x, M) : linear(x, dequantizeWgsl(w.prepared, g));
};

/**
 * The nearest-code search as one WGSL kernel (webgpu backend): a workgroup of 64 per query row;
 * each invocation scores codes k = lid, lid + 64, ... (s = a x.e_k - b_k: euclidean a = 2,
 * b = |e|^2; cosine a = 1, b = 0 on normalised vectors) keeping its best, then a tree reduction
 * in workgroup memory (ties: the lower index, as argmax). No [N, K] score matrix is formed.
 */
import { reshape, square, sum, zeros, type Tensor } from "@tessera/tensor";
import { WGSL_PRELUDE, wgslKernel } from "@tessera/tensor/webgpu";

const SEARCH = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> e: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> prm: array<u32>;
${WGSL_PRELUDE}
var<workgroup> bs: array<f32, 64>;
var<workgroup> bi: array<i32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  let N = prm[0]; let K = prm[1]; let d = prm[2];
  let a = f32(prm[3]);
  var best = -inf_();
  var bestI = -1;
  if (n < N) {
    for (var k = lid; k < K; k += 64u) {
      var dot = 0.0;
      for (var j = 0u; j < d; j++) { dot += x[n * d + j] * e[k * d + j]; }
      let s = a * dot - bias[k];
      if (s > best || bestI < 0) { best = s; bestI = i32(k); }
    }
  }
  bs[lid] = best;
  bi[lid] = bestI;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step = step / 2u) {
    if (lid < step) {
      let s2 = bs[lid + step]; let i2 = bi[lid + step];
      if (i2 >= 0 && (bi[lid] < 0 || s2 > bs[lid] || (s2 == bs[lid] && i2 < bi[lid]))) { bs[lid] = s2; bi[lid] = i2; }
    }
    workgroupBarrier();
  }
  if (lid == 0u && n < N) { out[n] = bi[0]; }
}`;

/** Indices int32 [N] of the best-scoring codes; x and codes already normalised for cosine. */
export function nearestCodeWgsl(x: Tensor, codes: Tensor, euclidean: boolean): Tensor {
  const [N, d] = x.shape;
  const K = codes.shape[0];
  const bias = euclidean ? reshape(sum(square(codes), -1), [K]) : zeros([K], { backend: x.backend });
  const groups = Math.max(1, N);
  const gx = Math.min(groups, 65535);
  const [out] = wgslKernel({
    code: SEARCH,
    inputs: [x, codes, bias],
    outputs: [{ shape: [N], dtype: "int32" }],
    params: [N, K, d, euclidean ? 2 : 1],
    groups: [gx, Math.ceil(groups / gx), 1],
  });
  return out;
}

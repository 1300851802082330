/**
 * int8 x int8 -> int32 products in WGSL: int8 tensors live on the webgpu backend one value per
 * i32, so each invocation computes one c[m, n] = sum_k a[m, k] b[n, k] exactly in i32.
 */
import type { Tensor } from "@tessera/tensor";
import { WGSL_PRELUDE, wgslKernel } from "@tessera/tensor/webgpu";

const GEMM_S8 = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> c: array<i32>;
@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> b: array<i32>;
@group(0) @binding(3) var<storage, read> prm: array<u32>;
${WGSL_PRELUDE}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  let M = prm[0]; let N = prm[1]; let K = prm[2];
  if (i >= M * N) { return; }
  let m = i / N; let n = i % N;
  var s = 0;
  for (var k = 0u; k < K; k++) { s += a[m * K + k] * b[n * K + k]; }
  c[i] = s;
}`;

export function int8MatmulWgsl(a: Tensor, b: Tensor): Tensor {
  const [M, K] = a.shape;
  const N = b.shape[0];
  const groups = Math.ceil((M * N) / 64);
  const x = Math.min(groups, 65535);
  const [c] = wgslKernel({ code: GEMM_S8, inputs: [a, b], outputs: [{ shape: [M, N], dtype: "int32" }], params: [M, N, K], groups: [x, Math.ceil(groups / x), 1] });
  return c;
}

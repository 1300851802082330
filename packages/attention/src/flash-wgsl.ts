/**
 * The fused flash-attention forward as one WGSL kernel (webgpu backend). A workgroup of 64
 * invocations takes 64 query rows of one (batch, head); key/value tiles of BK rows are staged in
 * workgroup memory; each invocation keeps its query row, running max m, sum l and output
 * accumulator in registers and updates them once per tile (the online softmax of tiled.ts).
 * Causal tiles beyond the workgroup's last query are skipped. It writes the output and the
 * row logsumexp, which the op-level backward of tiled.ts recomputes probabilities from.
 * Supports scale, causal (bottom-right aligned) and grouped heads; other biases use the
 * op-level tiled path.
 */
import type { Tensor } from "@tessera/tensor";
import { f32bits, WGSL_PRELUDE, wgslKernel } from "@tessera/tensor/webgpu";
import type { QKVDims } from "./shapes";

const WG = 64;
/** Workgroup memory budget for the K and V tiles (the WebGPU default limit is 16 KiB). */
const TILE_BYTES = 12 * 1024;

function source(D: number, Dv: number, BK: number): string {
  return /* wgsl */ `
const D: u32 = ${D}u;
const DV: u32 = ${Dv}u;
const BK: u32 = ${BK}u;
const WG: u32 = ${WG}u;
const NEG: f32 = -3.0e38;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<storage, read> qs: array<f32>;
@group(0) @binding(3) var<storage, read> kg: array<f32>;
@group(0) @binding(4) var<storage, read> vg: array<f32>;
@group(0) @binding(5) var<storage, read> prm: array<u32>;
var<workgroup> kt: array<f32, ${BK * D}>;
var<workgroup> vt: array<f32, ${BK * Dv}>;
${WGSL_PRELUDE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // prm: [H, Hkv, Tq, Tk, scale bits, causal]
  let H = prm[0]; let Hkv = prm[1]; let Tq = prm[2]; let Tk = prm[3];
  let scale = bitcast<f32>(prm[4]);
  let causal = prm[5] != 0u;
  let bh = wid.y;
  let b = bh / H;
  let h = bh % H;
  let kvh = h / (H / Hkv);
  let row0 = wid.x * WG;
  let row = row0 + lid;
  let live = row < Tq;
  let shift = i32(Tk) - i32(Tq); // bottom-right alignment: query i sits at i + Tk - Tq
  let qpos = i32(row) + shift;
  var qv: array<f32, ${D}>;
  var acc: array<f32, ${Dv}>;
  if (live) { for (var d = 0u; d < D; d++) { qv[d] = qs[(bh * Tq + row) * D + d] * scale; } }
  var m = NEG;
  var l = 0.0;
  // Keys past the last query of this workgroup are masked for every row: stop there.
  var kEnd = Tk;
  if (causal) { kEnd = u32(clamp(i32(min(row0 + WG, Tq)) - 1 + shift + 1, 0, i32(Tk))); }
  let kbase = (b * Hkv + kvh) * Tk;
  for (var t0 = 0u; t0 < kEnd; t0 += BK) {
    for (var e = lid; e < BK * D; e += WG) { let j = t0 + e / D; kt[e] = select(0.0, kg[(kbase + j) * D + e % D], j < Tk); }
    for (var e = lid; e < BK * DV; e += WG) { let j = t0 + e / DV; vt[e] = select(0.0, vg[(kbase + j) * DV + e % DV], j < Tk); }
    workgroupBarrier();
    if (live) {
      var s: array<f32, ${BK}>;
      var tmax = NEG;
      for (var jj = 0u; jj < BK; jj++) {
        let j = t0 + jj;
        var sc = NEG;
        if (j < Tk && (!causal || i32(j) <= qpos)) {
          sc = 0.0;
          for (var d = 0u; d < D; d++) { sc += qv[d] * kt[jj * D + d]; }
        }
        s[jj] = sc;
        tmax = max(tmax, sc);
      }
      let mNew = max(m, tmax);
      let c = exp(m - mNew);
      l = l * c;
      for (var d = 0u; d < DV; d++) { acc[d] = acc[d] * c; }
      for (var jj = 0u; jj < BK; jj++) {
        let p = select(0.0, exp(s[jj] - mNew), s[jj] > NEG);
        l += p;
        for (var d = 0u; d < DV; d++) { acc[d] += p * vt[jj * DV + d]; }
      }
      m = mNew;
    }
    workgroupBarrier();
  }
  if (live) {
    for (var d = 0u; d < DV; d++) { out[(bh * Tq + row) * DV + d] = acc[d] / l; } // l = 0: NaN, as PyTorch
    lse[bh * Tq + row] = select(-inf_(), m + log(l), l > 0.0);
  }
}`;
}

/** Whether the fused kernel covers these shapes (the caller checks that no bias is asked for). */
export function flashKernelApplies(q: Tensor, d: QKVDims): boolean {
  return q.dtype === "float32" && d.D <= 256 && d.Dv <= 256;
}

/** out [B, H, Tq, Dv] and lse [B, H, Tq, 1] from the fused kernel. */
export function flashForwardWgsl(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, scale: number, causal: boolean): { out: Tensor; lse: Tensor } {
  const BK = Math.max(1, Math.min(32, Math.floor(TILE_BYTES / ((d.D + d.Dv) * 4))));
  const [out, lse] = wgslKernel({
    code: source(d.D, d.Dv, BK),
    inputs: [q, k, v],
    outputs: [{ shape: [d.B, d.H, d.Tq, d.Dv] }, { shape: [d.B, d.H, d.Tq, 1] }],
    params: [d.H, d.Hkv, d.Tq, d.Tk, f32bits(scale), causal ? 1 : 0],
    groups: [Math.ceil(d.Tq / WG), d.B * d.H, 1],
  });
  return { out, lse };
}

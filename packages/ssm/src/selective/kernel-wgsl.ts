/**
 * The selective scan in WGSL (webgpu backend), parallel over batch, channel and time segments.
 *
 * Each step is affine in the state (x_t = a_t x_{t-1} + b_t), and a segment of steps composes to
 * x_end = exp(A sum(dt)) x_start + local, so the sequence is cut into S segments of SEG steps:
 *   1. local:   one invocation per (b, d, segment) scans its segment from a zero state
 *               (the segment's local state and sum of dt)
 *   2. combine: one invocation per (b, d) carries the true state across segments (S steps)
 *   3. output:  one invocation per (b, d, segment) rescans its segment from its true start and
 *               writes y (with D u and the silu(z) gate)
 * The backward pass runs the same three phases on the reverse recurrence of the state gradient,
 * hx_{t-1} = a_t (hx_t + dy_t C_t): local reverse scans, a reverse combine, and a final pass
 * per segment that writes du, ddelta, dz and per-element contributions to dB, dC, dA, dD and
 * deltaBias, which ordinary ops then sum over channels, batch and segments (WGSL has no float
 * atomics). This is the chunked scan of mamba_ssm's CUDA kernels, with segments instead of
 * thread-block chunks.
 *
 * Buffers are packed to stay within WebGPU's minimum of 8 storage buffers per shader stage:
 *   rows = [u | delta | z | dOut]  (each [B, D, L]; dOut only in the backward pass)
 *   bc   = [B | C]                 (each in its own layout, see args.ts)
 *   aux  = [A (D*N) | D (D) | deltaBias (D) | initialState (B*D*N)]
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { WGSL_PRELUDE, wgslKernel } from "@tessera/tensor/webgpu";
import type { ScanShape } from "./kernel-cpu";

/** Steps per segment. */
const SEG = 32;
const WG = 64;
/** The largest state size a kernel invocation keeps in registers. */
export const WGSL_MAX_STATE = 256;

type Get = (name: "u" | "delta" | "A" | "B" | "C" | "D" | "z" | "bias" | "h0") => Tensor | null;

/** Shared declarations: parameter names and indexing helpers. */
function header(N: number): string {
  return /* wgsl */ `
const NS: u32 = ${N}u;
const WG: u32 = ${WG}u;
${WGSL_PRELUDE}
// prm: [0 Bb, 1 Dm, 2 L, 3 S, 4 SEG, 5 softplus, 6 hasZ, 7 bG, 8-11 B strides (b, g, n, t),
//       12 cG, 13-16 C strides, 17 offset of C in bc, 18 reverse (combine)]
fn Bb() -> u32 { return prm[0]; }
fn Dm() -> u32 { return prm[1]; }
fn Ln() -> u32 { return prm[2]; }
fn Sg() -> u32 { return prm[3]; }
fn seg() -> u32 { return prm[4]; }
fn bIdx(b: u32, d: u32, n: u32, t: u32) -> u32 {
  return b * prm[8] + (d / (prm[1] / prm[7])) * prm[9] + n * prm[10] + t * prm[11];
}
fn cIdx(b: u32, d: u32, n: u32, t: u32) -> u32 {
  return prm[17] + b * prm[13] + (d / (prm[1] / prm[12])) * prm[14] + n * prm[15] + t * prm[16];
}
fn softplus_(v: f32) -> f32 { return select(log1p_(exp(v)), v, v > 20.0); }
fn stepSize(v: f32) -> f32 { return select(v, softplus_(v), prm[5] != 0u); }
fn BDL() -> u32 { return prm[0] * prm[1] * prm[2]; }
fn A_(d: u32, n: u32) -> f32 { return aux[d * NS + n]; }
fn Dskip(d: u32) -> f32 { return aux[prm[1] * NS + d]; }
fn bias(d: u32) -> f32 { return aux[prm[1] * NS + prm[1] + d]; }
fn invocation(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 { return (wid.y * nwg.x + wid.x) * WG + lid; }
// Invocation i of a per-segment pass: batch b, channel d (row bd = b * D + d), segment s and
// its steps t0 .. t1-1.
struct Seg { b: u32, d: u32, bd: u32, s: u32, t0: u32, t1: u32 }
fn segOf(i: u32) -> Seg {
  let s = i % Sg();
  let bd = i / Sg();
  return Seg(bd / Dm(), bd % Dm(), bd, s, s * seg(), min(Ln(), (s + 1u) * seg()));
}
`;
}

const ENTRY = "@compute @workgroup_size(64)\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32)";

/** Phase 1 forward: local state (from zero) and sum of dt per segment. out: [state (B*D*S*N) | sumDt (B*D*S)] */
function localForward(N: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read> bc: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read> prm: array<u32>;
${header(N)}
${ENTRY} {
  let i = invocation(wid, nwg, lid);
  if (i >= Bb() * Dm() * Sg()) { return; }
  let g = segOf(i); let b = g.b; let d = g.d; let bd = g.bd;
  var x: array<f32, NS>;
  var sdt = 0.0;
  for (var t = g.t0; t < g.t1; t++) {
    let r = bd * Ln() + t;
    let dt = stepSize(rows[BDL() + r] + bias(d));
    let dtu = dt * rows[r];
    sdt += dt;
    for (var n = 0u; n < NS; n++) { x[n] = exp(dt * A_(d, n)) * x[n] + dtu * bc[bIdx(b, d, n, t)]; }
  }
  for (var n = 0u; n < NS; n++) { out[i * NS + n] = x[n]; }
  out[Bb() * Dm() * Sg() * NS + i] = sdt;
}`;
}

/**
 * Phase 2 (both directions): carry across segments. carry' = exp(A sumDt) carry + local, in
 * segment order (forward) or reverse order (backward). out: [carry before each segment (B*D*S*N) | final (B*D*N)]
 */
function combine(N: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> loc: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read> carry0: array<f32>;
@group(0) @binding(4) var<storage, read> prm: array<u32>;
${header(N)}
${ENTRY} {
  let bd = invocation(wid, nwg, lid);
  if (bd >= Bb() * Dm()) { return; }
  let d = bd % Dm();
  let S = Sg();
  let total = Bb() * Dm() * S;
  var c: array<f32, NS>;
  for (var n = 0u; n < NS; n++) { c[n] = carry0[bd * NS + n]; }
  for (var k = 0u; k < S; k++) {
    let s = select(k, S - 1u - k, prm[18] != 0u);
    let j = bd * S + s;
    let sdt = loc[total * NS + j];
    for (var n = 0u; n < NS; n++) {
      out[j * NS + n] = c[n];
      c[n] = exp(A_(d, n) * sdt) * c[n] + loc[j * NS + n];
    }
  }
  for (var n = 0u; n < NS; n++) { out[total * NS + bd * NS + n] = c[n]; }
}`;
}

/** Phase 3 forward: rescan each segment from its true start and write y. */
function outputForward(N: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read> bc: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read> starts: array<f32>;
@group(0) @binding(5) var<storage, read> prm: array<u32>;
${header(N)}
${ENTRY} {
  let i = invocation(wid, nwg, lid);
  if (i >= Bb() * Dm() * Sg()) { return; }
  let g = segOf(i); let b = g.b; let d = g.d; let bd = g.bd;
  var x: array<f32, NS>;
  for (var n = 0u; n < NS; n++) { x[n] = starts[i * NS + n]; }
  for (var t = g.t0; t < g.t1; t++) {
    let r = bd * Ln() + t;
    let dt = stepSize(rows[BDL() + r] + bias(d));
    let ut = rows[r];
    let dtu = dt * ut;
    var acc = Dskip(d) * ut;
    for (var n = 0u; n < NS; n++) {
      x[n] = exp(dt * A_(d, n)) * x[n] + dtu * bc[bIdx(b, d, n, t)];
      acc += x[n] * bc[cIdx(b, d, n, t)];
    }
    if (prm[6] != 0u) { let z = rows[2u * BDL() + r]; acc *= z * sigmoid_(z); }
    y[r] = acc;
  }
}`;
}

/** The gradient reaching y before the gate: dy = dOut * silu(z). */
const DY = /* wgsl */ `
fn dyAt(r: u32) -> f32 {
  let g = rows[3u * BDL() + r];
  if (prm[6] == 0u) { return g; }
  let z = rows[2u * BDL() + r];
  return g * z * sigmoid_(z);
}`;

/** Phase 1 backward: local reverse scan of hx from zero. out: [hx (B*D*S*N) | sumDt (B*D*S)] */
function localBackward(N: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read> bc: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read> prm: array<u32>;
${header(N)}
${DY}
${ENTRY} {
  let i = invocation(wid, nwg, lid);
  if (i >= Bb() * Dm() * Sg()) { return; }
  let g = segOf(i); let b = g.b; let d = g.d; let bd = g.bd; let t0 = g.t0; let t1 = g.t1;
  var hx: array<f32, NS>;
  var sdt = 0.0;
  for (var t = t1; t > t0; t--) {
    let r = bd * Ln() + t - 1u;
    let dt = stepSize(rows[BDL() + r] + bias(d));
    let dy = dyAt(r);
    sdt += dt;
    for (var n = 0u; n < NS; n++) { hx[n] = exp(dt * A_(d, n)) * (hx[n] + dy * bc[cIdx(b, d, n, t - 1u)]); }
  }
  for (var n = 0u; n < NS; n++) { out[i * NS + n] = hx[n]; }
  out[Bb() * Dm() * Sg() * NS + i] = sdt;
}`;
}

/**
 * Phase 3 backward, per segment: a forward pass writes the states (scratch), dz and dy x_t (dC
 * terms); a reverse pass with the true hx writes du, ddelta, h dt u (dB terms) and per-segment
 * sums for dA, dD and deltaBias.
 *   grads = [du | ddelta | dz]  (each B*D*L)
 *   parts = [pB (B*D*N*L) | pC (B*D*N*L) | dA (B*D*S*N) | dD (B*D*S) | dBias (B*D*S)]
 *   state = [starts (B*D*S*N) | hxEnd (B*D*S*N)]
 */
function finishBackward(N: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> grads: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> xs: array<f32>;
@group(0) @binding(3) var<storage, read> rows: array<f32>;
@group(0) @binding(4) var<storage, read> bc: array<f32>;
@group(0) @binding(5) var<storage, read> aux: array<f32>;
@group(0) @binding(6) var<storage, read> st: array<f32>;
@group(0) @binding(7) var<storage, read> prm: array<u32>;
${header(N)}
${DY}
${ENTRY} {
  let i = invocation(wid, nwg, lid);
  let BDS = Bb() * Dm() * Sg();
  if (i >= BDS) { return; }
  let g = segOf(i); let b = g.b; let d = g.d; let bd = g.bd; let t0 = g.t0; let t1 = g.t1;
  let L = Ln();
  let NL = Bb() * Dm() * NS * L;
  var x: array<f32, NS>;
  for (var n = 0u; n < NS; n++) { x[n] = st[i * NS + n]; }
  // forward through the segment: states, dz, and dC terms dy x_t
  for (var t = t0; t < t1; t++) {
    let r = bd * L + t;
    let dt = stepSize(rows[BDL() + r] + bias(d));
    let ut = rows[r];
    var y = Dskip(d) * ut;
    for (var n = 0u; n < NS; n++) {
      x[n] = exp(dt * A_(d, n)) * x[n] + dt * ut * bc[bIdx(b, d, n, t)];
      y += x[n] * bc[cIdx(b, d, n, t)];
      xs[(bd * NS + n) * L + t] = x[n];
    }
    let dy = dyAt(r);
    if (prm[6] != 0u) {
      let z = rows[2u * BDL() + r];
      let sg = sigmoid_(z);
      grads[2u * BDL() + r] = rows[3u * BDL() + r] * y * sg * (1.0 + z * (1.0 - sg));
    }
    for (var n = 0u; n < NS; n++) { parts[NL + (bd * NS + n) * L + t] = dy * x[n]; }
  }
  // reverse through the segment
  var hx: array<f32, NS>;
  var dA: array<f32, NS>;
  for (var n = 0u; n < NS; n++) { hx[n] = st[BDS * NS + i * NS + n]; }
  var dD = 0.0;
  var dBias = 0.0;
  for (var t = t1; t > t0; t--) {
    let tt = t - 1u;
    let r = bd * L + tt;
    let v = rows[BDL() + r] + bias(d);
    let dt = stepSize(v);
    let ut = rows[r];
    let dy = dyAt(r);
    dD += dy * ut;
    var du = dy * Dskip(d);
    var ddt = 0.0;
    for (var n = 0u; n < NS; n++) {
      let An = A_(d, n);
      let a = exp(dt * An);
      let bv = bc[bIdx(b, d, n, tt)];
      var xPrev = st[i * NS + n];
      if (tt > t0) { xPrev = xs[(bd * NS + n) * L + tt - 1u]; }
      let h = hx[n] + dy * bc[cIdx(b, d, n, tt)];
      parts[(bd * NS + n) * L + tt] = h * dt * ut;
      du += h * dt * bv;
      ddt += h * (xPrev * a * An + bv * ut);
      dA[n] += h * xPrev * a * dt;
      hx[n] = h * a;
    }
    let ddelta = select(ddt, ddt * sigmoid_(v), prm[5] != 0u);
    dBias += ddelta;
    grads[r] = du;
    grads[BDL() + r] = ddelta;
  }
  for (var n = 0u; n < NS; n++) { parts[2u * NL + i * NS + n] = dA[n]; }
  parts[2u * NL + BDS * NS + i] = dD;
  parts[2u * NL + BDS * NS + BDS + i] = dBias;
}`;
}

function grid(n: number): [number, number, number] {
  const groups = Math.ceil(n / WG);
  return groups <= 65535 ? [Math.max(1, groups), 1, 1] : [65535, Math.ceil(groups / 65535), 1];
}

interface Packed {
  rows: Tensor;
  bc: Tensor;
  aux: Tensor;
  init: Tensor;
  params: number[];
  S: number;
}

const flat = (t: Tensor): Tensor => T.reshape(t, [t.size]);

function pack(s: ScanShape, get: Get, dOut: Tensor | null): Packed {
  const { Bb, Dm, L, N } = s;
  const S = Math.ceil(L / SEG);
  const backend = "webgpu";
  const zeros = (n: number): Tensor => T.zeros([n], { backend });
  const u = get("u")!;
  const z = get("z");
  const rowParts = [flat(u), flat(get("delta")!), z ? flat(z) : zeros(Bb * Dm * L)];
  if (dOut) rowParts.push(flat(dOut));
  const B = get("B")!;
  const C = get("C")!;
  const init = get("h0") ? flat(get("h0")!) : zeros(Bb * Dm * N);
  const D = get("D");
  const bias = get("bias");
  const aux = T.concat([flat(get("A")!), D ? flat(D) : zeros(Dm), bias ? flat(bias) : zeros(Dm), init], 0);
  const params = [Bb, Dm, L, S, SEG, s.softplus ? 1 : 0, z ? 1 : 0, s.bL.G, ...s.bL.strides, s.cL.G, ...s.cL.strides, B.size, 0];
  return { rows: T.concat(rowParts, 0), bc: T.concat([flat(B), flat(C)], 0), aux, init, params, S };
}

/** Forward: y [B, D, L] and the last state [B, D, N]. */
export function scanForwardWgsl(s: ScanShape, get: Get): [Tensor, Tensor] {
  const { Bb, Dm, L, N } = s;
  return T.tidy(() => {
    const p = pack(s, get, null);
    const BDS = Bb * Dm * p.S;
    const [local] = wgslKernel({ code: localForward(N), inputs: [p.rows, p.bc, p.aux], outputs: [{ shape: [BDS * N + BDS] }], params: p.params, groups: grid(BDS) });
    const [carry] = wgslKernel({ code: combine(N), inputs: [local, p.aux, p.init], outputs: [{ shape: [BDS * N + Bb * Dm * N] }], params: p.params, groups: grid(Bb * Dm) });
    const [y] = wgslKernel({ code: outputForward(N), inputs: [p.rows, p.bc, p.aux, carry], outputs: [{ shape: [Bb, Dm, L] }], params: p.params, groups: grid(BDS) });
    return [y, T.reshape(T.narrow(carry, 0, BDS * N, Bb * Dm * N), [Bb, Dm, N])];
  });
}

/** Sums per-channel contributions [B, D, N, L] into the layout of B or C. */
function reduceProj(part: Tensor, like: Tensor, kind: "time-invariant" | "shared" | "grouped", Bb: number, Dm: number, N: number, L: number): Tensor {
  const p = T.reshape(part, [Bb, Dm, N, L]);
  if (kind === "time-invariant") return T.sum(p, [0, 3]); // [D, N]
  if (kind === "shared") return T.sum(p, 1); // [B, N, L]
  const G = like.shape[1];
  return T.sum(T.reshape(p, [Bb, G, Dm / G, N, L]), 2); // [B, G, N, L]
}

/** Backward: the gradient of every present input. */
export function scanBackwardWgsl(s: ScanShape, get: Get, dOut: Tensor, dLast: Tensor): Record<string, Tensor> {
  const { Bb, Dm, L, N } = s;
  return T.tidy(() => {
    const p = pack(s, get, dOut);
    const BDS = Bb * Dm * p.S;
    const rev = [...p.params.slice(0, -1), 1];
    // forward starts of each segment (phases 1-2 of the forward pass)
    const [localF] = wgslKernel({ code: localForward(N), inputs: [p.rows, p.bc, p.aux], outputs: [{ shape: [BDS * N + BDS] }], params: p.params, groups: grid(BDS) });
    const [carryF] = wgslKernel({ code: combine(N), inputs: [localF, p.aux, p.init], outputs: [{ shape: [BDS * N + Bb * Dm * N] }], params: p.params, groups: grid(Bb * Dm) });
    // reverse: local hx per segment, then carried from the last segment to the first
    const [localB] = wgslKernel({ code: localBackward(N), inputs: [p.rows, p.bc, p.aux], outputs: [{ shape: [BDS * N + BDS] }], params: p.params, groups: grid(BDS) });
    const [carryB] = wgslKernel({ code: combine(N), inputs: [localB, p.aux, flat(dLast)], outputs: [{ shape: [BDS * N + Bb * Dm * N] }], params: rev, groups: grid(Bb * Dm) });
    const state = T.concat([T.narrow(carryF, 0, 0, BDS * N), T.narrow(carryB, 0, 0, BDS * N)], 0);
    const NL = Bb * Dm * N * L;
    const [grads, parts] = wgslKernel({
      code: finishBackward(N),
      inputs: [p.rows, p.bc, p.aux, state],
      outputs: [{ shape: [3 * Bb * Dm * L] }, { shape: [2 * NL + BDS * N + 2 * BDS] }, { shape: [NL] }],
      params: p.params,
      groups: grid(BDS),
    });
    const row = (k: number): Tensor => T.reshape(T.narrow(grads, 0, k * Bb * Dm * L, Bb * Dm * L), [Bb, Dm, L]);
    const perSeg = (off: number, inner: number): Tensor => T.reshape(T.narrow(parts, 0, off, BDS * inner), [Bb, Dm, p.S, inner]);
    const B = get("B")!;
    const C = get("C")!;
    const out: Record<string, Tensor> = {
      u: row(0),
      delta: row(1),
      B: reduceProj(T.narrow(parts, 0, 0, NL), B, s.bL.kind, Bb, Dm, N, L),
      C: reduceProj(T.narrow(parts, 0, NL, NL), C, s.cL.kind, Bb, Dm, N, L),
      A: T.sum(perSeg(2 * NL, N), [0, 2]), // [D, N]
      D: T.reshape(T.sum(perSeg(2 * NL + BDS * N, 1), [0, 2, 3]), [Dm]),
      bias: T.reshape(T.sum(perSeg(2 * NL + BDS * N + BDS, 1), [0, 2, 3]), [Dm]),
      h0: T.reshape(T.narrow(carryB, 0, BDS * N, Bb * Dm * N), [Bb, Dm, N]),
    };
    if (get("z")) out.z = row(2);
    for (const k of Object.keys(out)) if (!get(k as Parameters<Get>[0])) delete out[k];
    return out;
  });
}

// The fused selective scan in WebAssembly SIMD, four channels per f32x4 vector (AssemblyScript;
// compiled by scripts/build-wasm.mjs into src/selective/wasm/binary.ts). Everything per step
// happens here: dt = softplus(delta + bias), the state update, y = C . x + D u, the silu(z)
// gate, and in the backward pass all their gradients.
//
// Layouts (src/selective/kernel-wasm.ts copies the caller's arrays in): per-step inputs and
// outputs keep the caller's [B, D, L] with D padded to Dp = 4k channels (padded channels are
// zero everywhere and stay zero); states [B, Dp, N]; A transposed to [N, Dp]; D and deltaBias
// [Dp]; checkpoints [B, nChunks, N, Dp]. B and C come in one of two modes:
//   splat  the value at base + n*sn + t*st is shared by the four channels (shared [B, N, L] or
//          grouped [B, G, N, L] with groups of a multiple of 4 channels): base = b*s0 + group*s1
//   lanes  time-invariant [D, N] transposed to [N, Dp]: one value per channel
// exp is Cephes' expf on f32x4 (vmath.ts of @tessera/tensor); log1p for the softplus is
// Cephes' logf with Kahan's correction.
import { exp4, hsum, madd4 } from "../node_modules/@tessera/tensor/wasm/vmath"; // through the declared dependency, not a sibling folder

const ZERO = f32x4.splat(0);
const ONE = f32x4.splat(1);

// @ts-ignore: decorator
@inline
function at(ptr: usize, i: i32): usize {
  return ptr + (<usize>i << 2);
}

/** Elements i, i + s, i + 2s, i + 3s (four channels of one step). */
// @ts-ignore: decorator
@inline
function gather(p: usize, i: i32, s: i32): v128 {
  let v = f32x4.splat(load<f32>(at(p, i)));
  v = f32x4.replace_lane(v, 1, load<f32>(at(p, i + s)));
  v = f32x4.replace_lane(v, 2, load<f32>(at(p, i + 2 * s)));
  return f32x4.replace_lane(v, 3, load<f32>(at(p, i + 3 * s)));
}

// @ts-ignore: decorator
@inline
function scatter(p: usize, i: i32, s: i32, v: v128): void {
  store<f32>(at(p, i), f32x4.extract_lane(v, 0));
  store<f32>(at(p, i + s), f32x4.extract_lane(v, 1));
  store<f32>(at(p, i + 2 * s), f32x4.extract_lane(v, 2));
  store<f32>(at(p, i + 3 * s), f32x4.extract_lane(v, 3));
}

/** log(x) for x > 0 (Cephes logf): x = m 2^e with m in [sqrt(1/2), sqrt(2)), a polynomial in m - 1. */
// @ts-ignore: decorator
@inline
function log4(x: v128): v128 {
  const bits = i32x4.sub(v128.and(x, i32x4.splat(0x7f800000)), i32x4.splat(0x3f000000)); // exponent - 126
  let e = f32x4.convert_i32x4_s(i32x4.shr_s(bits, 23));
  let m = v128.or(v128.and(x, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000)); // mantissa in [0.5, 1)
  const small = f32x4.lt(m, f32x4.splat(0.707106781186547524));
  e = f32x4.sub(e, v128.and(small, ONE));
  m = f32x4.sub(f32x4.add(m, v128.and(small, m)), ONE); // 2m - 1 or m - 1
  const z = f32x4.mul(m, m);
  let y = f32x4.splat(7.0376836292e-2);
  y = madd4(y, m, f32x4.splat(-1.1514610310e-1));
  y = madd4(y, m, f32x4.splat(1.1676998740e-1));
  y = madd4(y, m, f32x4.splat(-1.2420140846e-1));
  y = madd4(y, m, f32x4.splat(1.4249322787e-1));
  y = madd4(y, m, f32x4.splat(-1.6668057665e-1));
  y = madd4(y, m, f32x4.splat(2.0000714765e-1));
  y = madd4(y, m, f32x4.splat(-2.4999993993e-1));
  y = madd4(y, m, f32x4.splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = madd4(e, f32x4.splat(-2.12194440e-4), y);
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  return madd4(e, f32x4.splat(0.693359375), f32x4.add(m, y));
}

/** softplus(v) = log(1 + exp(v)), v past 20 as is (torch's threshold). */
// @ts-ignore: decorator
@inline
function softplus4(v: v128): v128 {
  const ex = exp4(f32x4.min(v, f32x4.splat(20)));
  const u = f32x4.add(ONE, ex);
  // log1p(ex) = log(u) - ((u - 1) - ex) / u corrects the rounding of 1 + ex (tiny ex stays exact)
  const l = f32x4.sub(log4(u), f32x4.div(f32x4.sub(f32x4.sub(u, ONE), ex), u));
  return v128.bitselect(v, l, f32x4.gt(v, f32x4.splat(20)));
}

// @ts-ignore: decorator
@inline
function sigmoid4(v: v128): v128 {
  return f32x4.div(ONE, f32x4.add(ONE, exp4(f32x4.neg(v))));
}

// @ts-ignore: decorator
@inline
function proj(ptr: usize, mode: i32, base: i32, sn: i32, st: i32, n: i32, t: i32, Dp: i32, d: i32): v128 {
  if (mode == 0) return f32x4.splat(load<f32>(at(ptr, base + n * sn + t * st)));
  return v128.load(at(ptr, n * Dp + d));
}

/** dt for four channels at step t: softplus(delta + bias) or delta + bias. */
// @ts-ignore: decorator
@inline
function stepSize(delta: usize, i: i32, L: i32, bias4: v128, softplus: i32): v128 {
  const v = f32x4.add(gather(delta, i, L), bias4);
  return softplus ? softplus4(v) : v;
}

/**
 * Forward over all rows: y [B, Dp, L] = (C . x + D u) * silu(z), the last state [B, Dp, N] and
 * the state at every chunk start [B, nChunks, N, Dp], for channels [d0, d1) (multiples of 4: threads
 * split the channels; each channel is computed alike whatever the split). xs: scratch of N vectors.
 */
export function scan_fwd(
  Bb: i32, L: i32, Dp: i32, N: i32, chunk: i32, softplus: i32, hasZ: i32,
  u: usize, delta: usize, z: usize, dSkip: usize, bias: usize, aT: usize,
  bp: usize, bMode: i32, b0: i32, b1: i32, bn: i32, bt: i32, bg: i32,
  cp: usize, cMode: i32, c0: i32, c1: i32, cn: i32, ct: i32, cg: i32,
  h0: usize, y: usize, last: usize, ck: usize, xs: usize, d0: i32, d1: i32,
): void {
  const nChunks = (L + chunk - 1) / chunk;
  for (let b = 0; b < Bb; b++) {
    for (let d = d0; d < d1; d += 4) {
      const bBase = b * b0 + (d / bg) * b1;
      const cBase = b * c0 + (d / cg) * c1;
      const bias4 = v128.load(at(bias, d));
      const D4 = v128.load(at(dSkip, d));
      const row = (b * Dp + d) * L; // channel d at step 0
      for (let n = 0; n < N; n++) v128.store(xs + (<usize>n << 4), h0 ? gather(h0, (b * Dp + d) * N + n, N) : ZERO);
      for (let t = 0; t < L; t++) {
        if (t % chunk == 0) {
          const base = (b * nChunks + t / chunk) * N;
          for (let n = 0; n < N; n++) v128.store(at(ck, (base + n) * Dp + d), v128.load(xs + (<usize>n << 4)));
        }
        const dt4 = stepSize(delta, row + t, L, bias4, softplus);
        const u4 = gather(u, row + t, L);
        const dtu4 = f32x4.mul(dt4, u4);
        let y4 = f32x4.mul(D4, u4);
        for (let n = 0; n < N; n++) {
          const a4 = exp4(f32x4.mul(dt4, v128.load(at(aT, n * Dp + d))));
          const x4 = madd4(dtu4, proj(bp, bMode, bBase, bn, bt, n, t, Dp, d), f32x4.mul(a4, v128.load(xs + (<usize>n << 4))));
          v128.store(xs + (<usize>n << 4), x4);
          y4 = madd4(x4, proj(cp, cMode, cBase, cn, ct, n, t, Dp, d), y4);
        }
        if (hasZ) {
          const z4 = gather(z, row + t, L);
          y4 = f32x4.mul(y4, f32x4.mul(z4, sigmoid4(z4)));
        }
        scatter(y, row + t, L, y4);
      }
      for (let n = 0; n < N; n++) scatter(last, (b * Dp + d) * N + n, N, v128.load(xs + (<usize>n << 4)));
    }
  }
}

/**
 * Backward, given dOut [B, Dp, L] and dLast [B, Dp, N] (0: none). Per chunk (from the last),
 * recomputes states, decays and step sizes from the checkpoint, then runs the reverse
 * recurrence hx_{t-1} = a_t (hx_t + dy_t C_t). Writes du, ddelta, dz [B, Dp, L] and
 * dh0 [B, Dp, N]; accumulates dA^T [N, Dp], dD and dbias [Dp], and dB, dC (splat mode: the
 * input's layout, summed over the four lanes; lanes mode: [N, Dp]). Scratch: states
 * ((chunk+1) N vectors), decays (chunk N), dts (2 chunk: dt and dt u), hx (N), dA (N).
 */
export function scan_bwd(
  Bb: i32, L: i32, Dp: i32, N: i32, chunk: i32, softplus: i32, hasZ: i32,
  u: usize, delta: usize, z: usize, dSkip: usize, bias: usize, aT: usize,
  bp: usize, bMode: i32, b0: i32, b1: i32, bn: i32, bt: i32, bg: i32,
  cp: usize, cMode: i32, c0: i32, c1: i32, cn: i32, ct: i32, cg: i32,
  ck: usize, dOut: usize, dLast: usize,
  du: usize, ddelta: usize, dz: usize, dAT: usize, dB: usize, dC: usize, dD: usize, dBias: usize, dh0: usize,
  states: usize, decays: usize, dts: usize, hx: usize, dA: usize,
): void {
  const nChunks = (L + chunk - 1) / chunk;
  for (let b = 0; b < Bb; b++) {
    for (let d = 0; d < Dp; d += 4) {
      const bBase = b * b0 + (d / bg) * b1;
      const cBase = b * c0 + (d / cg) * c1;
      const bias4 = v128.load(at(bias, d));
      const D4 = v128.load(at(dSkip, d));
      const row = (b * Dp + d) * L;
      let dD4 = ZERO;
      let dBias4 = ZERO;
      for (let n = 0; n < N; n++) {
        v128.store(hx + (<usize>n << 4), dLast ? gather(dLast, (b * Dp + d) * N + n, N) : ZERO);
        v128.store(dA + (<usize>n << 4), ZERO);
      }
      for (let c = nChunks - 1; c >= 0; c--) {
        const t0 = c * chunk;
        const t1 = min(L, t0 + chunk);
        // 1. recompute the chunk's states, decays and step sizes from its checkpoint
        for (let n = 0; n < N; n++) v128.store(states + (<usize>n << 4), v128.load(at(ck, ((b * nChunks + c) * N + n) * Dp + d)));
        for (let t = t0; t < t1; t++) {
          const j = t - t0;
          const dt4 = stepSize(delta, row + t, L, bias4, softplus);
          const dtu4 = f32x4.mul(dt4, gather(u, row + t, L));
          v128.store(dts + (<usize>(2 * j) << 4), dt4);
          v128.store(dts + (<usize>(2 * j + 1) << 4), dtu4);
          for (let n = 0; n < N; n++) {
            const a4 = exp4(f32x4.mul(dt4, v128.load(at(aT, n * Dp + d))));
            v128.store(decays + (<usize>(j * N + n) << 4), a4);
            const prev = v128.load(states + (<usize>(j * N + n) << 4));
            v128.store(states + (<usize>((j + 1) * N + n) << 4), madd4(dtu4, proj(bp, bMode, bBase, bn, bt, n, t, Dp, d), f32x4.mul(a4, prev)));
          }
        }
        // 2. reverse through the chunk
        for (let t = t1 - 1; t >= t0; t--) {
          const j = t - t0;
          const dt4 = v128.load(dts + (<usize>(2 * j) << 4));
          const dtu4 = v128.load(dts + (<usize>(2 * j + 1) << 4));
          const u4 = gather(u, row + t, L);
          const g4 = gather(dOut, row + t, L);
          let z4 = ZERO;
          let dy4 = g4;
          if (hasZ) {
            z4 = gather(z, row + t, L);
            dy4 = f32x4.mul(g4, f32x4.mul(z4, sigmoid4(z4))); // the gradient reaching C . x + D u
          }
          let du4 = f32x4.mul(dy4, D4);
          let ddt4 = ZERO;
          let yRaw4 = ZERO; // C . x_t, for dz
          for (let n = 0; n < N; n++) {
            const A4 = v128.load(at(aT, n * Dp + d));
            const bv = proj(bp, bMode, bBase, bn, bt, n, t, Dp, d);
            const cv = proj(cp, cMode, cBase, cn, ct, n, t, Dp, d);
            const xPrev = v128.load(states + (<usize>(j * N + n) << 4));
            const xt = v128.load(states + (<usize>((j + 1) * N + n) << 4));
            const decay = v128.load(decays + (<usize>(j * N + n) << 4));
            yRaw4 = madd4(xt, cv, yRaw4);
            const h = madd4(dy4, cv, v128.load(hx + (<usize>n << 4))); // total gradient of x_t
            const gC = f32x4.mul(dy4, xt);
            const gB = f32x4.mul(h, dtu4);
            if (cMode == 0) {
              const ci = at(dC, cBase + n * cn + t * ct);
              store<f32>(ci, load<f32>(ci) + hsum(gC));
            } else {
              const ci = at(dC, n * Dp + d);
              v128.store(ci, f32x4.add(v128.load(ci), gC));
            }
            if (bMode == 0) {
              const bi = at(dB, bBase + n * bn + t * bt);
              store<f32>(bi, load<f32>(bi) + hsum(gB));
            } else {
              const bi = at(dB, n * Dp + d);
              v128.store(bi, f32x4.add(v128.load(bi), gB));
            }
            du4 = madd4(f32x4.mul(h, dt4), bv, du4);
            const hd = f32x4.mul(f32x4.mul(h, xPrev), decay);
            ddt4 = f32x4.add(ddt4, madd4(f32x4.mul(h, bv), u4, f32x4.mul(hd, A4)));
            v128.store(dA + (<usize>n << 4), madd4(hd, dt4, v128.load(dA + (<usize>n << 4))));
            v128.store(hx + (<usize>n << 4), f32x4.mul(h, decay));
          }
          if (hasZ) {
            // d/dz [y silu(z)] = y s (1 + z (1 - s)), y = C . x + D u
            const s = sigmoid4(z4);
            const y = madd4(D4, u4, yRaw4);
            scatter(dz, row + t, L, f32x4.mul(f32x4.mul(g4, y), f32x4.mul(s, madd4(z4, f32x4.sub(ONE, s), ONE))));
          }
          dD4 = madd4(dy4, u4, dD4);
          const dd4 = softplus ? f32x4.mul(ddt4, sigmoid4(f32x4.add(gather(delta, row + t, L), bias4))) : ddt4; // softplus' = sigmoid
          dBias4 = f32x4.add(dBias4, dd4);
          scatter(du, row + t, L, du4);
          scatter(ddelta, row + t, L, dd4);
        }
      }
      for (let n = 0; n < N; n++) {
        scatter(dh0, (b * Dp + d) * N + n, N, v128.load(hx + (<usize>n << 4)));
        const ai = at(dAT, n * Dp + d);
        v128.store(ai, f32x4.add(v128.load(ai), v128.load(dA + (<usize>n << 4))));
      }
      v128.store(at(dD, d), f32x4.add(v128.load(at(dD, d)), dD4));
      v128.store(at(dBias, d), f32x4.add(v128.load(at(dBias, d)), dBias4));
    }
  }
}

/** Lane i (0..3) of an f32x4 (extract_lane takes a constant index). */
// @ts-ignore: decorator
@inline
function lane(v: v128, i: i32): f32 {
  if (i == 0) return f32x4.extract_lane(v, 0);
  if (i == 1) return f32x4.extract_lane(v, 1);
  if (i == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/**
 * One decoding step (mamba_ssm's selective_state_update) in the state's own layout: the N
 * states of a channel are contiguous in [B, D, N], so vectors run over n (no gathers, no
 * transposed A). Four channels at a time for dt, D x and the gate:
 *   dt = softplus(dt + bias) (or dt + bias);  h = exp(dt A[d]) h + (dt x) B;  y = C . h + D x;  y *= silu(z)
 * x, dt, z, y [B, D]; state, out [B, D, N] (out may be state); A [D, N]; B, C [B, G, N] (channel d
 * reads group min(d / per, G - 1): `per` channels a group, padding channels in the last one);
 * dSkip, bias [D] (0: none); with aLog, A holds log(-A) (A_log) and -exp of it is used. D and N
 * are multiples of 4 (the caller pads).
 */
export function state_update(
  Bb: i32, Dm: i32, N: i32, G: i32, per: i32, softplus: i32, aLog: i32, hasZ: i32,
  state: usize, x: usize, dt: usize, z: usize, A: usize, bp: usize, cp: usize, dSkip: usize, bias: usize,
  y: usize, out: usize,
): void {
  for (let b = 0; b < Bb; b++) {
    for (let d = 0; d < Dm; d += 4) {
      const row = b * Dm + d;
      let dt4 = v128.load(at(dt, row));
      if (bias) dt4 = f32x4.add(dt4, v128.load(at(bias, d)));
      if (softplus) dt4 = softplus4(dt4);
      const x4 = v128.load(at(x, row));
      const dtx4 = f32x4.mul(dt4, x4);
      // C . h of the four channels, one lane each
      let ch4 = ZERO;
      for (let c = 0; c < 4; c++) {
        const ch = d + c;
        const proj = (b * G + min(ch / per, G - 1)) * N; // this channel's row of B and C
        const hRow = (b * Dm + ch) * N;
        const aRow = ch * N;
        const dts = f32x4.splat(lane(dt4, c));
        const dtxs = f32x4.splat(lane(dtx4, c));
        let acc = ZERO;
        for (let n = 0; n < N; n += 4) {
          const A4 = aLog ? f32x4.neg(exp4(v128.load(at(A, aRow + n)))) : v128.load(at(A, aRow + n));
          const a4 = exp4(f32x4.mul(dts, A4));
          const h4 = madd4(dtxs, v128.load(at(bp, proj + n)), f32x4.mul(a4, v128.load(at(state, hRow + n))));
          v128.store(at(out, hRow + n), h4);
          acc = madd4(h4, v128.load(at(cp, proj + n)), acc);
        }
        const s = hsum(acc);
        if (c == 0) ch4 = f32x4.replace_lane(ch4, 0, s);
        else if (c == 1) ch4 = f32x4.replace_lane(ch4, 1, s);
        else if (c == 2) ch4 = f32x4.replace_lane(ch4, 2, s);
        else ch4 = f32x4.replace_lane(ch4, 3, s);
      }
      let y4 = dSkip ? madd4(v128.load(at(dSkip, d)), x4, ch4) : ch4;
      if (hasZ) {
        const z4 = v128.load(at(z, row));
        y4 = f32x4.mul(y4, f32x4.mul(z4, sigmoid4(z4)));
      }
      v128.store(at(y, row), y4);
    }
  }
}

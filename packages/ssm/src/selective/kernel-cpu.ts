/**
 * The selective scan as plain loops over Float32Arrays (the cpu fused kernel), forward and
 * backward. One (batch, channel) row at a time; the state x [N] lives in a small float64 array.
 *
 * Backward (reverse-mode through the recurrence, as mamba_ssm's selective_scan_bwd kernel):
 * with hx the gradient flowing into x_t from later steps,
 *   h      = hx + dy_t C_t                        total gradient of x_t
 *   dC_t  += dy_t x_t          dB_t += h dt u_t    du_t += dy_t D + h . dt B_t
 *   ddt_t  = h . (x_{t-1} a_t A + B_t u_t)         dA   += h x_{t-1} a_t dt
 *   hx     = h a_t                                 (into x_{t-1}; after t = 0 it is d initialState)
 * States are recomputed chunk by chunk from checkpoints saved every CHUNK steps, so memory is
 * O(B D N (L / CHUNK + CHUNK)) instead of O(B D N L); the forward pass saves the checkpoints.
 */
import type { ProjLayout } from "./args";

export interface ScanArrays {
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array | null;
  z: Float32Array | null;
  bias: Float32Array | null;
  h0: Float32Array | null;
}

export interface ScanShape {
  Bb: number;
  Dm: number;
  L: number;
  N: number;
  softplus: boolean;
  bL: ProjLayout;
  cL: ProjLayout;
}

export interface ScanGrads {
  du: Float32Array;
  ddelta: Float32Array;
  dA: Float32Array;
  dB: Float32Array;
  dC: Float32Array;
  dD: Float32Array;
  dz: Float32Array;
  dbias: Float32Array;
  dh0: Float32Array;
}

/** torch.nn.functional.softplus with threshold 20. */
const softplus = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));

/** Offset of B/C[b, group(d), 0, 0] (the state and time strides are in the layout). */
function projBase(l: ProjLayout, b: number, d: number, Dm: number): number {
  return b * l.strides[0] + Math.floor(d / (Dm / l.G)) * l.strides[1];
}

function initState(s: ScanShape, a: ScanArrays, b: number, d: number, x: Float64Array): void {
  const base = (b * s.Dm + d) * s.N;
  for (let n = 0; n < s.N; n++) x[n] = a.h0 ? a.h0[base + n] : 0;
}

/** Steps per checkpoint of the state (the backward pass recomputes one chunk at a time). */
export const CHUNK = 64;

/**
 * out [B, D, L], the last state [B, D, N] and the state before every CHUNK-th step
 * ([B, D, ceil(L / CHUNK), N]) for the backward pass.
 */
export function scanForwardCpu(s: ScanShape, a: ScanArrays): { out: Float32Array; last: Float32Array; checkpoints: Float32Array } {
  const { Bb, Dm, L, N } = s;
  const nChunks = Math.ceil(L / CHUNK);
  const out = new Float32Array(Bb * Dm * L);
  const last = new Float32Array(Bb * Dm * N);
  const checkpoints = new Float32Array(Bb * Dm * nChunks * N);
  const x = new Float64Array(N);
  const [, , bn, bt] = s.bL.strides;
  const [, , cn, ct] = s.cL.strides;
  for (let b = 0; b < Bb; b++) {
    for (let d = 0; d < Dm; d++) {
      const row = (b * Dm + d) * L;
      const bb = projBase(s.bL, b, d, Dm);
      const cb = projBase(s.cL, b, d, Dm);
      const Dd = a.D ? a.D[d] : 0;
      const bias = a.bias ? a.bias[d] : 0;
      const Ab = d * N;
      initState(s, a, b, d, x);
      for (let t = 0; t < L; t++) {
        if (t % CHUNK === 0) checkpoints.set(x, ((b * Dm + d) * nChunks + t / CHUNK) * N);
        const v = a.delta[row + t] + bias;
        const dt = s.softplus ? softplus(v) : v;
        const ut = a.u[row + t];
        const dtu = dt * ut;
        let y = Dd * ut;
        for (let n = 0, bi = bb + t * bt, ci = cb + t * ct; n < N; n++, bi += bn, ci += cn) {
          const xn = Math.exp(dt * a.A[Ab + n]) * x[n] + dtu * a.B[bi];
          x[n] = xn;
          y += xn * a.C[ci];
        }
        if (a.z) {
          const zt = a.z[row + t];
          y *= zt / (1 + Math.exp(-zt));
        }
        out[row + t] = y;
      }
      last.set(x, (b * Dm + d) * N);
    }
  }
  return { out, last, checkpoints };
}

/**
 * Gradients of every input given dOut [B, D, L], dLast [B, D, N] (null: unused) and the
 * forward's checkpoints. Per chunk, one forward pass recomputes the states and keeps each
 * step's decay exp(dt A) and dt; the reverse pass reuses them (one exp per state per step).
 */
export function scanBackwardCpu(s: ScanShape, a: ScanArrays, dOut: Float32Array, dLast: Float32Array | null, checkpoints: Float32Array): ScanGrads {
  const { Bb, Dm, L, N } = s;
  const g: ScanGrads = {
    du: new Float32Array(Bb * Dm * L),
    ddelta: new Float32Array(Bb * Dm * L),
    dA: new Float32Array(Dm * N),
    dB: new Float32Array(a.B.length),
    dC: new Float32Array(a.C.length),
    dD: new Float32Array(Dm),
    dz: new Float32Array(a.z ? Bb * Dm * L : 0),
    dbias: new Float32Array(Dm),
    dh0: new Float32Array(Bb * Dm * N),
  };
  const nChunks = Math.ceil(L / CHUNK);
  const states = new Float64Array((CHUNK + 1) * N); // row 0: the state before the chunk; row j+1: after step j
  const decays = new Float64Array(CHUNK * N);
  const dts = new Float64Array(CHUNK);
  const hx = new Float64Array(N);
  const dA = new Float64Array(N);
  const [, , bn, bt] = s.bL.strides;
  const [, , cn, ct] = s.cL.strides;
  for (let b = 0; b < Bb; b++) {
    for (let d = 0; d < Dm; d++) {
      const row = (b * Dm + d) * L;
      const bb = projBase(s.bL, b, d, Dm);
      const cb = projBase(s.cL, b, d, Dm);
      const Dd = a.D ? a.D[d] : 0;
      const bias = a.bias ? a.bias[d] : 0;
      const Ab = d * N;
      let dD = 0;
      let dBias = 0;
      dA.fill(0);
      for (let n = 0; n < N; n++) hx[n] = dLast ? dLast[(b * Dm + d) * N + n] : 0;
      for (let c = nChunks - 1; c >= 0; c--) {
        const t0 = c * CHUNK;
        const t1 = Math.min(L, t0 + CHUNK);
        // 1. recompute the chunk's states, decays and step sizes
        const ck = ((b * Dm + d) * nChunks + c) * N;
        for (let n = 0; n < N; n++) states[n] = checkpoints[ck + n];
        for (let t = t0; t < t1; t++) {
          const j = t - t0;
          const v = a.delta[row + t] + bias;
          const dt = s.softplus ? softplus(v) : v;
          dts[j] = dt;
          const dtu = dt * a.u[row + t];
          for (let n = 0, bi = bb + t * bt; n < N; n++, bi += bn) {
            const decay = Math.exp(dt * a.A[Ab + n]);
            decays[j * N + n] = decay;
            states[(j + 1) * N + n] = decay * states[j * N + n] + dtu * a.B[bi];
          }
        }
        // 2. reverse through the chunk
        for (let t = t1 - 1; t >= t0; t--) {
          const i = row + t;
          const j = t - t0;
          const ut = a.u[i];
          const dt = dts[j];
          let dy = dOut[i];
          if (a.z) {
            let y = Dd * ut; // y before the gate
            for (let n = 0, ci = cb + t * ct; n < N; n++, ci += cn) y += states[(j + 1) * N + n] * a.C[ci];
            const zt = a.z[i];
            const sg = 1 / (1 + Math.exp(-zt));
            g.dz[i] = dy * y * sg * (1 + zt * (1 - sg));
            dy *= zt * sg;
          }
          dD += dy * ut;
          let du = dy * Dd;
          let ddt = 0;
          for (let n = 0, bi = bb + t * bt, ci = cb + t * ct; n < N; n++, bi += bn, ci += cn) {
            const xPrev = states[j * N + n];
            const An = a.A[Ab + n];
            const decay = decays[j * N + n];
            const bv = a.B[bi];
            const h = hx[n] + dy * a.C[ci]; // total gradient of x_t
            g.dC[ci] += dy * states[(j + 1) * N + n];
            g.dB[bi] += h * dt * ut;
            du += h * dt * bv;
            const hd = h * xPrev * decay;
            ddt += hd * An + h * bv * ut;
            dA[n] += hd * dt;
            hx[n] = h * decay;
          }
          const dDelta = s.softplus ? ddt / (1 + Math.exp(-(a.delta[i] + bias))) : ddt; // softplus' = sigmoid
          g.ddelta[i] = dDelta;
          dBias += dDelta;
          g.du[i] = du;
        }
      }
      for (let n = 0; n < N; n++) {
        g.dh0[(b * Dm + d) * N + n] = hx[n];
        g.dA[Ab + n] += dA[n];
      }
      g.dD[d] += dD;
      g.dbias[d] += dBias;
    }
  }
  return g;
}

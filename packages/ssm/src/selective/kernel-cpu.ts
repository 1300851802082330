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
 * O(B D N (L / CHUNK + CHUNK)) instead of O(B D N L).
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

const CHUNK = 64;

/** torch.nn.functional.softplus with threshold 20. */
const softplus = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));

/** Offset of B/C[b, group(d), 0, 0] and the (state, time) strides. */
function projBase(l: ProjLayout, b: number, d: number, Dm: number): number {
  return b * l.strides[0] + Math.floor(d / (Dm / l.G)) * l.strides[1];
}

function stepSize(s: ScanShape, a: ScanArrays, d: number, i: number): number {
  const v = a.delta[i] + (a.bias ? a.bias[d] : 0);
  return s.softplus ? softplus(v) : v;
}

/** Runs steps t0 .. t1-1 of row (b, d) from state x; calls visit(t, x) after each step. */
function advance(s: ScanShape, a: ScanArrays, b: number, d: number, x: Float64Array, t0: number, t1: number, visit: (t: number, x: Float64Array) => void): void {
  const { Dm, L, N } = s;
  const row = (b * Dm + d) * L;
  const bb = projBase(s.bL, b, d, Dm);
  const [, , bn, bt] = s.bL.strides;
  for (let t = t0; t < t1; t++) {
    const dt = stepSize(s, a, d, row + t);
    const dtu = dt * a.u[row + t];
    for (let n = 0; n < N; n++) x[n] = Math.exp(dt * a.A[d * N + n]) * x[n] + dtu * a.B[bb + n * bn + t * bt];
    visit(t, x);
  }
}

function initState(s: ScanShape, a: ScanArrays, b: number, d: number, x: Float64Array): void {
  const base = (b * s.Dm + d) * s.N;
  for (let n = 0; n < s.N; n++) x[n] = a.h0 ? a.h0[base + n] : 0;
}

/** out [B, D, L] and the last state [B, D, N]. */
export function scanForwardCpu(s: ScanShape, a: ScanArrays): { out: Float32Array; last: Float32Array } {
  const { Bb, Dm, L, N } = s;
  const out = new Float32Array(Bb * Dm * L);
  const last = new Float32Array(Bb * Dm * N);
  const x = new Float64Array(N);
  const [, , cn, ct] = s.cL.strides;
  for (let b = 0; b < Bb; b++) {
    for (let d = 0; d < Dm; d++) {
      const row = (b * Dm + d) * L;
      const cb = projBase(s.cL, b, d, Dm);
      initState(s, a, b, d, x);
      advance(s, a, b, d, x, 0, L, (t, xt) => {
        let y = a.D ? a.D[d] * a.u[row + t] : 0;
        for (let n = 0; n < N; n++) y += xt[n] * a.C[cb + n * cn + t * ct];
        if (a.z) {
          const zt = a.z[row + t];
          y *= zt / (1 + Math.exp(-zt));
        }
        out[row + t] = y;
      });
      last.set(x, (b * Dm + d) * N);
    }
  }
  return { out, last };
}

/** Gradients of every input given dOut [B, D, L] and dLast [B, D, N] (null: unused). */
export function scanBackwardCpu(s: ScanShape, a: ScanArrays, dOut: Float32Array, dLast: Float32Array | null): ScanGrads {
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
  const checkpoints = new Float64Array(nChunks * N); // state before each chunk
  const states = new Float64Array(CHUNK * N); // states inside the current chunk
  const x = new Float64Array(N);
  const hx = new Float64Array(N);
  const [, , bn, bt] = s.bL.strides;
  const [, , cn, ct] = s.cL.strides;
  for (let b = 0; b < Bb; b++) {
    for (let d = 0; d < Dm; d++) {
      const row = (b * Dm + d) * L;
      const bb = projBase(s.bL, b, d, Dm);
      const cb = projBase(s.cL, b, d, Dm);
      const Dd = a.D ? a.D[d] : 0;
      // 1. forward, saving the state at each chunk start
      initState(s, a, b, d, x);
      for (let c = 0; c < nChunks; c++) {
        checkpoints.set(x, c * N);
        advance(s, a, b, d, x, c * CHUNK, Math.min(L, (c + 1) * CHUNK), () => {});
      }
      // 2. reverse, chunk by chunk, recomputing the chunk's states from its checkpoint
      for (let n = 0; n < N; n++) hx[n] = dLast ? dLast[(b * Dm + d) * N + n] : 0;
      for (let c = nChunks - 1; c >= 0; c--) {
        const t0 = c * CHUNK;
        const t1 = Math.min(L, t0 + CHUNK);
        x.set(checkpoints.subarray(c * N, c * N + N));
        advance(s, a, b, d, x, t0, t1, (t, xt) => states.set(xt, (t - t0) * N));
        for (let t = t1 - 1; t >= t0; t--) {
          const i = row + t;
          const j = t - t0;
          const ut = a.u[i];
          const dv = a.delta[i] + (a.bias ? a.bias[d] : 0);
          const dt = s.softplus ? softplus(dv) : dv;
          let dy = dOut[i];
          if (a.z) {
            let y = Dd * ut; // y before the gate
            for (let n = 0; n < N; n++) y += states[j * N + n] * a.C[cb + n * cn + t * ct];
            const zt = a.z[i];
            const sg = 1 / (1 + Math.exp(-zt));
            g.dz[i] = dy * y * sg * (1 + zt * (1 - sg));
            dy *= zt * sg;
          }
          g.dD[d] += dy * ut;
          let du = dy * Dd;
          let ddt = 0;
          for (let n = 0; n < N; n++) {
            const xt = states[j * N + n];
            const xPrev = j > 0 ? states[(j - 1) * N + n] : checkpoints[c * N + n];
            const bi = bb + n * bn + t * bt;
            const ci = cb + n * cn + t * ct;
            const An = a.A[d * N + n];
            const decay = Math.exp(dt * An);
            const h = hx[n] + dy * a.C[ci];
            g.dC[ci] += dy * xt;
            g.dB[bi] += h * dt * ut;
            du += h * dt * a.B[bi];
            ddt += h * (xPrev * decay * An + a.B[bi] * ut);
            g.dA[d * N + n] += h * xPrev * decay * dt;
            hx[n] = h * decay;
          }
          const dDelta = s.softplus ? ddt / (1 + Math.exp(-dv)) : ddt; // softplus' = sigmoid
          g.ddelta[i] = dDelta;
          g.dbias[d] += dDelta;
          g.du[i] = du;
        }
      }
      for (let n = 0; n < N; n++) g.dh0[(b * Dm + d) * N + n] = hx[n];
    }
  }
  return g;
}

/** Initialisations shared by the Mamba family (mamba_ssm `Mamba.__init__`, `Mamba2.__init__`). */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";

export interface DtInitOptions {
  /** Range of the initial step size dt (defaults 0.001 .. 0.1), sampled log-uniformly. */
  dtMin?: number;
  dtMax?: number;
  /** Smallest initial dt (default 1e-4). */
  dtInitFloor?: number;
}

/**
 * Bias whose softplus is dt ~ exp(U[log dtMin, log dtMax]) clamped at dtInitFloor: the inverse
 * softplus dt + log(-expm1(-dt)) (mamba_ssm; PyTorch issue 72759). [n]
 */
export function dtBiasInit(n: number, o: DtInitOptions, gen: T.Generator | undefined, backend?: string): Tensor {
  const lo = Math.log(o.dtMin ?? 0.001);
  const hi = Math.log(o.dtMax ?? 0.1);
  const floor = o.dtInitFloor ?? 1e-4;
  const u = T.uniform([n], 0, 1, { seed: gen, backend: "cpu" });
  const r = u.dataSync();
  u.dispose();
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const dt = Math.max(floor, Math.exp(r[i] * (hi - lo) + lo));
    v[i] = dt + Math.log(-Math.expm1(-dt));
  }
  return T.tensor(v, { backend });
}

/** A_log for S4D-real: log(1 .. N) for each of `rows` channels, so A = -exp(A_log) = -(1 .. N). [rows, N] */
export function s4dRealLogA(rows: number, N: number, backend?: string): Tensor {
  const v = new Float32Array(rows * N);
  for (let i = 0; i < rows; i++) for (let n = 0; n < N; n++) v[i * N + n] = Math.log(n + 1);
  return T.tensor(v, { shape: [rows, N], backend });
}

export const generatorOf = (seed: number | T.Generator | undefined): T.Generator | undefined => (typeof seed === "number" ? new T.Generator(seed) : seed);

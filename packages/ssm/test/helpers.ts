import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fixtureFiles } from "@tessera/tensor/node";
import { assertClose } from "@tessera/tensor/testing";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository's reference outputs (fixtures/ at the root; fixtures/README.md says how they were made). */
export const FIXTURES = join(here, "..", "..", "..", "fixtures");

/** A safetensors file under fixtures/, loaded once and kept for the run. */
export const fixture = fixtureFiles(FIXTURES, "fixtures/ at the repository root is incomplete (git checkout fixtures)");
const local = fixtureFiles(join(here, "fixtures"), "run test/fixtures/gen_refs.py");

/** NumPy/SciPy references of this package (test/fixtures/gen_refs.py). */
export function ref(name: string): Tensor {
  const t = local("refs.safetensors")[name];
  if (!t) throw new Error(`no reference '${name}' in test/fixtures/refs.safetensors`);
  return t;
}

/** Largest |x| (the scale the tolerances are relative to). */
export function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.dataSync()) m = Math.max(m, Math.abs(v));
  return m;
}

/** y from feeding x in pieces of the given lengths, carrying the state. */
export function inPieces(m: T.TokenMixer, x: T.Tensor, lengths: number[]): T.Tensor {
  let state: T.MixerState | undefined;
  let at = 0;
  const ys: T.Tensor[] = [];
  for (const n of lengths) {
    const r = m.forward(T.narrow(x, 1, at, n), state);
    ys.push(r.y);
    state = r.state;
    at += n;
  }
  return T.concat(ys, 1);
}

export function stepwise(m: T.TokenMixer, x: T.Tensor): T.Tensor {
  let state = m.initState(x.shape[0]);
  const ys: T.Tensor[] = [];
  for (let t = 0; t < x.shape[1]; t++) {
    const r = m.step(T.select(x, 1, t), state);
    ys.push(r.y);
    state = r.state;
  }
  return T.stack(ys, 1);
}

/**
 * Checks T.gradients of loss() for named module parameters against central finite
 * differences, perturbing each parameter element in place (float32).
 */
export async function checkParamGrads(m: T.Module, names: string[], loss: () => T.Tensor, o: { eps?: number; atol?: number; rtol?: number } = {}): Promise<void> {
  const eps = o.eps ?? 1e-3;
  const params = m.namedParameters();
  const { grads } = T.gradients(loss, params);
  for (const name of names) {
    const p = params[name];
    const base = Float32Array.from(p.dataSync());
    const fd = new Float32Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const at = (d: number): number => {
        const v = Float32Array.from(base);
        v[i] += d;
        T.assign(p, T.tensor(v, { shape: p.shape }));
        return T.tidy(() => loss().itemSync());
      };
      fd[i] = (at(eps) - at(-eps)) / (2 * eps);
    }
    T.assign(p, T.tensor(base, { shape: p.shape }));
    await assertClose(grads[name], fd, { atol: o.atol ?? 2e-3, rtol: o.rtol ?? 2e-2, label: `d loss / d ${name}` });
  }
}

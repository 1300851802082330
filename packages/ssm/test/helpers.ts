import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "@tessera/tensor";
import { keep, type Tensor } from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";

const here = dirname(fileURLToPath(import.meta.url));
/** ../shared beside the repository (override with TESSERA_SHARED). */
export const SHARED = process.env.TESSERA_SHARED ?? join(here, "..", "..", "..", "..", "shared");

const cache = new Map<string, Record<string, Tensor>>();

/** A safetensors file under ../shared/fixtures, loaded once and kept for the run. */
export function fixture(...parts: string[]): Record<string, Tensor> {
  const p = join(SHARED, "fixtures", ...parts);
  if (!cache.has(p)) {
    if (!existsSync(p)) throw new Error(`missing ${p}: the repository expects ../shared beside it (or set TESSERA_SHARED)`);
    const t = loadSafetensors(p).tensors;
    for (const v of Object.values(t)) keep(v);
    cache.set(p, t);
  }
  return cache.get(p)!;
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


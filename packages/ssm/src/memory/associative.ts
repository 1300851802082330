/**
 * associativeMemory: a Miras test-time memory over a sequence (memory architecture x
 * attentional bias x retention x inner optimiser, ATLAS's Omega window, Titans/ATLAS mini-batch
 * parallelism). Configurations of note (tested):
 *   matrix, dot, alpha = 1, gd, eta = 1            causal linear attention
 *   matrix, l2, alpha = 1, gd, eta = beta          the delta rule (DeltaNet)
 *   matrix, dot, alpha = exp(g), gd                scalar-gated linear attention (simple GLA)
 *   mlp, l2, momentum, alpha                       Titans' neural memory (Behrouz et al. 2024)
 *   window c, polynomial features, muon            ATLAS (Behrouz et al. 2025)
 *   lp / huber biases                              Moneta / Yaad (Miras)
 * Shapes: q, k [B, H, T, K] (feature-mapped already), v [B, H, T, V]; gates [B, H, T] or numbers.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { checkTensors, expectShape, fail, shp } from "../util";
import { memoryBlock } from "./chunked";
import { initialMemoryState, resolveConfig, type AssociativeState, type MemoryConfig, type MemoryGates } from "./config";
import { memoryStep } from "./recurrent";

export interface AssociativeOptions {
  /** State to continue from (default: a fresh state from `init`). */
  initialState?: AssociativeState | null;
  /** Initial memory parameters when there is no state: [H, *shape] or [B, H, *shape] each (default zeros; an MLP needs non-zero weights). */
  init?: Tensor[];
  /** 'chunked' (default: parallel within each mini-batch) or 'recurrent' (token by token). */
  form?: "chunked" | "recurrent";
}

function gateTensor(name: string, g: Tensor | number | undefined, dflt: number, like: Tensor, shape: number[]): Tensor {
  if (g === undefined || typeof g === "number") return T.full(shape, g ?? dflt, { backend: like.backend });
  expectShape("associativeMemory", name, g, shape, `[B, H, T] = [${shape.join(",")}]`);
  return g;
}

function startState(cfg: ReturnType<typeof resolveConfig>, o: AssociativeOptions, B: number, H: number, K: number, V: number, backend: string): AssociativeState {
  if (o.initialState) return o.initialState;
  const init = o.init ?? cfg.arch.shapes(K, V).map((s) => T.zeros([H, ...s], { backend }));
  return initialMemoryState(cfg, init, B, H, K, V);
}

/** o [B, H, T, V] and the state after the last token. */
export function associativeMemory(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  gates: MemoryGates,
  config: MemoryConfig = {},
  opts: AssociativeOptions = {},
): { o: Tensor; state: AssociativeState } {
  const op = "associativeMemory";
  checkTensors(op, q, { q, k, v });
  if (q.rank !== 4) fail(op, `q ${shp(q)} must be [B, H, T, K]`);
  const [Bb, H, Tn, K] = q.shape;
  expectShape(op, "k", k, [Bb, H, Tn, K], `[B, H, T, K] like q ${shp(q)}`);
  if (v.rank !== 4 || v.shape[0] !== Bb || v.shape[1] !== H || v.shape[2] !== Tn) fail(op, `v ${shp(v)} must be [B, H, T, V] with B, H, T of q ${shp(q)}`);
  const V = v.shape[3];
  const cfg = resolveConfig(config);
  const shape = [Bb, H, Tn];
  const g = {
    eta: gateTensor("eta", gates.eta, 1, q, shape),
    alpha: gateTensor("alpha", gates.alpha, 1, q, shape),
    theta: gateTensor("theta", gates.theta, 0.9, q, shape),
    gamma: gateTensor("gamma", gates.gamma, 1, q, shape),
  };
  let s = startState(cfg, opts, Bb, H, K, V, q.backend);
  const outs: Tensor[] = [];
  const form = opts.form ?? "chunked";
  if (form === "recurrent") {
    for (let t = 0; t < Tn; t++) {
      const at = (x: Tensor) => T.select(x, 2, t);
      const r = memoryStep(cfg, at(q), at(k), at(v), { eta: at(g.eta), alpha: at(g.alpha), theta: at(g.theta), gamma: at(g.gamma) }, s);
      outs.push(T.unsqueeze(r.o, 2));
      s = r.state;
    }
  } else if (form === "chunked") {
    for (let t = 0; t < Tn; ) {
      const n = Math.min(Tn - t, cfg.chunkSize - (s.position % cfg.chunkSize)); // up to the next aligned boundary
      const part = (x: Tensor) => T.narrow(x, 2, t, n);
      const r = memoryBlock(cfg, part(q), part(k), part(v), { eta: part(g.eta), alpha: part(g.alpha), theta: part(g.theta), gamma: part(g.gamma) }, s);
      outs.push(r.o);
      s = r.state;
      t += n;
    }
  } else fail(op, `unknown form '${String(form)}' (chunked, recurrent)`);
  return { o: T.concat(outs, 2), state: s };
}

/** One decoding step: q, k [B, H, K]; v [B, H, V]; gates [B, H] or numbers. */
export function associativeMemoryStep(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  gates: MemoryGates,
  state: AssociativeState,
  config: MemoryConfig = {},
): { o: Tensor; state: AssociativeState } {
  const op = "associativeMemoryStep";
  checkTensors(op, q, { q, k, v });
  if (q.rank !== 3) fail(op, `q ${shp(q)} must be [B, H, K]`);
  expectShape(op, "k", k, q.shape, `like q ${shp(q)}`);
  const cfg = resolveConfig(config);
  return memoryStep(cfg, q, k, v, { eta: gates.eta, alpha: gates.alpha ?? 1, theta: gates.theta ?? 0.9, gamma: gates.gamma ?? 1 }, state);
}

/**
 * A fresh state for B sequences of H heads: memory parameters `init` ([H, *shape] or
 * [B, H, *shape] each; default zeros), zero momentum and an empty window.
 */
export function createMemoryState(config: MemoryConfig, B: number, H: number, K: number, V: number, opts: { init?: Tensor[]; backend?: string } = {}): AssociativeState {
  const cfg = resolveConfig(config);
  return startState(cfg, { init: opts.init }, B, H, K, V, opts.backend ?? opts.init?.[0]?.backend ?? "cpu");
}

export type { AssociativeState, MemoryConfig, MemoryGates };

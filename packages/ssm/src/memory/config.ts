/**
 * The four axes of a Miras associative memory (Behrouz et al. 2025, "It's All Connected"),
 * plus ATLAS's window, the mini-batch that makes training parallel, and the recurrent state.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { fail, positiveInt } from "../util";
import { architecture, type Arch, type MemoryArchitecture } from "./architecture";
import { checkBias, type AttentionalBias } from "./bias";

export type InnerOptimizer = "gd" | "momentum" | "muon";

export interface MemoryConfig {
  /** 'matrix' (default) or { mlp: { hidden, residual? } }. */
  memory?: MemoryArchitecture;
  /** Attentional bias: 'l2' (default), 'dot', { lp, smooth? } or { huber: delta }. */
  bias?: AttentionalBias;
  /**
   * Inner optimiser (with retention alpha, learning rate eta, momentum theta):
   *   'gd'        P_t = alpha_t P_{t-1} - eta_t G_t
   *   'momentum'  S_t = theta_t S_{t-1} - eta_t G_t;  P_t = alpha_t P_{t-1} + S_t          (Titans)
   *   'muon'      S_t as momentum;                    P_t = alpha_t P_{t-1} + NS5(S_t)     (ATLAS)
   */
  optimizer?: InnerOptimizer;
  /** Newton-Schulz iterations for 'muon' (default 5). */
  nsSteps?: number;
  /** ATLAS's Omega rule: G_t sums gamma_i grad l_i over the last `window` tokens (default 1). */
  window?: number;
  /**
   * Mini-batch of the inner optimiser: tokens of one aligned block of `chunkSize` take their
   * gradients at the memory of the block's start (Titans/ATLAS chunk-parallel training;
   * default 1: fully online).
   */
  chunkSize?: number;
}

export interface ResolvedConfig {
  arch: Arch;
  bias: AttentionalBias;
  optimizer: InnerOptimizer;
  nsSteps: number;
  window: number;
  chunkSize: number;
}

export function resolveConfig(c: MemoryConfig): ResolvedConfig {
  const bias = c.bias ?? "l2";
  checkBias(bias);
  const optimizer = c.optimizer ?? "gd";
  if (!["gd", "momentum", "muon"].includes(optimizer)) fail("associativeMemory", `unknown optimizer '${optimizer}' (gd, momentum, muon)`);
  const r = { arch: architecture(c.memory ?? "matrix"), bias, optimizer, nsSteps: c.nsSteps ?? 5, window: c.window ?? 1, chunkSize: c.chunkSize ?? 1 };
  positiveInt("associativeMemory", "window", r.window);
  positiveInt("associativeMemory", "chunkSize", r.chunkSize);
  positiveInt("associativeMemory", "nsSteps", r.nsSteps);
  return r;
}

/** Per-token gates [B, H, T] (or constants): eta >= 0, alpha in (0, 1], theta in [0, 1), gamma >= 0. */
export interface MemoryGates {
  /** Inner learning rate eta_t. */
  eta: Tensor | number;
  /** Retention alpha_t (1: no forgetting; default 1). */
  alpha?: Tensor | number;
  /** Momentum decay theta_t (default 0.9; unused by 'gd'). */
  theta?: Tensor | number;
  /** Omega-rule weight gamma_t of each token's loss (default 1). */
  gamma?: Tensor | number;
}

export interface AssociativeState {
  /** Memory parameters now [B, H, *shape] (one tensor for a matrix, two for an MLP). */
  params: Tensor[];
  /** Parameters at the start of the current mini-batch. */
  start: Tensor[];
  /** Momentum S [B, H, *shape] (zeros for 'gd'). */
  momentum: Tensor[];
  /** The previous window - 1 keys [B, H, c-1, K], values [B, H, c-1, V] and gammas [B, H, c-1] (zeros before the sequence). */
  winK: Tensor;
  winV: Tensor;
  winG: Tensor;
  /** Tokens seen. */
  position: number;
}

/** A fresh state: memory params from `init` (each [B, H, *shape], or [H, *shape] broadcast over B). */
export function initialMemoryState(cfg: ResolvedConfig, init: Tensor[], B: number, H: number, K: number, V: number): AssociativeState {
  const shapes = cfg.arch.shapes(K, V);
  if (init.length !== shapes.length) fail("associativeMemory", `the memory needs ${shapes.length} parameter tensors, got ${init.length}`);
  const backend = init[0].backend;
  const params = init.map((p, i) => {
    const full = [B, H, ...shapes[i]];
    if (p.rank === full.length - 1 && p.shape.join() === full.slice(1).join()) return T.expand(T.unsqueeze(p, 0), full);
    if (p.shape.join() !== full.join()) fail("associativeMemory", `memory parameter ${i} is [${p.shape.join(",")}], expected [${full.join(",")}] or [${full.slice(1).join(",")}]`);
    return p;
  });
  const c = cfg.window - 1;
  return {
    params,
    start: params,
    momentum: params.map((p) => T.zerosLike(p)),
    winK: T.zeros([B, H, c, K], { backend }),
    winV: T.zeros([B, H, c, V], { backend }),
    winG: T.zeros([B, H, c], { backend }),
    position: 0,
  };
}

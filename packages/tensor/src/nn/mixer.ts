/**
 * The token-mixer contract (DESIGN.md, "Composition: the token mixer"). Every sequence layer
 * (softmax attention, retention, Mamba, linear RNNs, test-time memory) implements it, so models
 * can swap one for another in a config, and its three faces can be tested against each other:
 * forward over a whole sequence, forward over it in pieces (carrying the state), and step by
 * step decoding must agree.
 */
import { dispose } from "../core/engine";
import type { Tensor } from "../core/tensor";

/**
 * A mixer's recurrent state: named tensors (a conv window, an SSM state, a KV memory) and plain
 * numbers (a position counter for rotary embeddings).
 */
export type MixerState = Record<string, Tensor | number>;

export interface TokenMixer<S extends MixerState = MixerState> {
  /**
   * x [B, T, D] -> y [B, T, D]. Continues from `state` when given (prefill in pieces) and
   * returns the state after the last token; `state` is not consumed.
   */
  forward(x: Tensor, state?: S): { y: Tensor; state: S };
  /** One token: x [B, D] -> y [B, D] and the next state; `state` is not consumed. */
  step(x: Tensor, state: S): { y: Tensor; state: S };
  /** The state before the first token, for a batch of `batch` sequences. */
  initState(batch: number): S;
}

/** Frees every tensor of a mixer state. */
export function disposeState(state: MixerState): void {
  dispose(Object.values(state).filter((v) => typeof v !== "number"));
}

/** Options every builder takes: where the weights live, the init seed, and swapped parts. */
import type { Generator } from "@tessera/tensor";
import type { Layer, MixerModule } from "../nn/block";

export interface BuildOptions {
  backend?: string;
  /** Seed of the random init (a model built to be trained, or before weights load). */
  seed?: number | Generator;
  /**
   * Replaces block l's token mixer (composition: GPT-2 with sigmoid attention, a hybrid with
   * Mamba layers). Return undefined to keep the architecture's own mixer.
   */
  mixer?: (layer: number, dModel: number) => MixerModule | undefined;
  /** Replaces block l's channel MLP (null removes it, with its norm). */
  mlp?: (layer: number, dModel: number) => Layer | null | undefined;
  /**
   * A layer applied to block l's output (codebook features, adapters); undefined for none. Saved
   * under `blocks.{l}.post.*`.
   */
  post?: (layer: number, dModel: number) => Layer | undefined;
  /**
   * Refuse configs whose float32 parameters would take more bytes than this (checked from the
   * config's sizes before anything is allocated). Default 8 GiB.
   */
  maxParameterBytes?: number;
}

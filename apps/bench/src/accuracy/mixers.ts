/**
 * The token mixers the tasks runner trains, each built for one layer of the shared backbone
 * (runner.ts: embedding + learned positions -> pre-norm MetaFormer Blocks of @tessera/models ->
 * RMSNorm). Attention variants come from @tessera/attention through `AttentionMixer` below (the
 * forms asked for explicitly: tiled softmax, tiled sigmoid, chunked causal linear, banded sliding
 * window); the recurrent / SSM layers are the @tessera/ssm modules as they are.
 */
import * as T from "@tessera/tensor";
import { linearAttention, scaledDotProductAttention, sigmoidAttention, slidingWindowAttention } from "@tessera/attention";
import { DeltaNet, GatedLinearAttention, LMU, Mamba2Mixer, MambaMixer, MultiScaleRetention, S4D } from "@tessera/ssm";
import type { MixerModule } from "@tessera/models";

export type AttentionKind = "softmax" | "sigmoid" | "linear" | "window";

export interface AttentionMixerOptions {
  dModel: number;
  nHeads: number;
  kind: AttentionKind;
  /** Sliding window length (the query and window - 1 keys before it); kind 'window'. */
  window?: number;
  seed?: number | T.Generator;
}

/** What the attention mixer keeps for one-token steps: the inputs so far (recomputed: training is what is measured). */
type AttentionMixerState = T.MixerState;

/**
 * Causal multi-head attention as a TokenMixer: q, k, v = x W (one fused projection), heads,
 * one of the @tessera/attention forms, out projection. Positions come from the backbone's
 * learned position embedding.
 */
export class AttentionMixer extends T.Module implements T.TokenMixer<AttentionMixerState> {
  readonly qkv: T.Linear;
  readonly o: T.Linear;
  readonly headDim: number;
  constructor(readonly opts: AttentionMixerOptions) {
    super();
    const gen = typeof opts.seed === "number" ? new T.Generator(opts.seed) : opts.seed;
    this.headDim = opts.dModel / opts.nHeads;
    if (!Number.isInteger(this.headDim)) throw new Error(`AttentionMixer: dModel ${opts.dModel} is not a multiple of nHeads ${opts.nHeads}`);
    this.qkv = this.registerModule("qkv", new T.Linear(opts.dModel, 3 * opts.dModel, { bias: false, seed: gen }));
    this.o = this.registerModule("o", new T.Linear(opts.dModel, opts.dModel, { bias: false, seed: gen }));
  }

  initState(): AttentionMixerState {
    return {};
  }

  private attend(q: T.Tensor, k: T.Tensor, v: T.Tensor): T.Tensor {
    const Tn = q.shape[2];
    switch (this.opts.kind) {
      case "softmax":
        return scaledDotProductAttention(q, k, v, { causal: true, implementation: "tiled", blockSize: 64 });
      case "sigmoid":
        return sigmoidAttention(q, k, v, { causal: true, implementation: "tiled", blockSize: 64 });
      case "linear":
        return linearAttention(q, k, v, { causal: true, form: "chunked", chunkSize: 64, eps: 1e-6 });
      case "window":
        return slidingWindowAttention(q, k, v, { left: Math.min(Tn, this.opts.window ?? 16) - 1 });
    }
  }

  forward(x: T.Tensor, state?: AttentionMixerState): { y: T.Tensor; state: AttentionMixerState } {
    const [B, Tn, D] = x.shape;
    const past = state?.x as T.Tensor | undefined;
    const full = past ? T.concat([past, x], 1) : x;
    const L = full.shape[1];
    const heads = (t: T.Tensor) => T.permute(T.reshape(t, [B, L, this.opts.nHeads, this.headDim]), [0, 2, 1, 3]);
    const qkv = this.qkv.forward(full);
    const [q, k, v] = [0, 1, 2].map((i) => heads(T.narrow(qkv, 2, i * D, D)));
    let o = T.reshape(T.permute(this.attend(q, k, v), [0, 2, 1, 3]), [B, L, D]);
    if (L !== Tn) o = T.narrow(o, 1, L - Tn, Tn);
    return { y: this.o.forward(o), state: { x: full } };
  }

  step(x: T.Tensor, state: AttentionMixerState): { y: T.Tensor; state: AttentionMixerState } {
    const r = this.forward(T.reshape(x, [x.shape[0], 1, x.shape[1]]), state);
    return { y: T.reshape(r.y, [x.shape[0], x.shape[1]]), state: r.state };
  }
}

export interface MixerBuildContext {
  layer: number;
  dModel: number;
  /** The task's sequence length (LMU's window, chunk sizes). */
  seqLen: number;
  seed: T.Generator;
}

export interface MixerSpec {
  name: string;
  /** What it is, for the README / table legend. */
  description: string;
  build(c: MixerBuildContext): MixerModule;
}

const HEADS = 4;
const attention = (kind: AttentionKind) => (c: MixerBuildContext) =>
  new AttentionMixer({ dModel: c.dModel, nHeads: HEADS, kind, window: 16, seed: c.seed }) as unknown as MixerModule;
const mamba = (c: MixerBuildContext) => new MambaMixer({ dModel: c.dModel, dState: 16, seed: c.seed }) as unknown as MixerModule;

/** Every mixer of the grid, in table order. */
export const MIXERS: MixerSpec[] = [
  { name: "softmax", description: "causal softmax attention, tiled (flash-style online softmax, key blocks of 64), 4 heads", build: attention("softmax") },
  { name: "sigmoid", description: "causal sigmoid attention (Ramapuram et al. 2025), tiled, b = -log T, 4 heads", build: attention("sigmoid") },
  { name: "linear", description: "causal linear attention (Katharopoulos et al. 2020), elu+1 features, chunked form, 4 heads", build: attention("linear") },
  { name: "window", description: "causal sliding-window softmax attention, window 16, banded, 4 heads", build: attention("window") },
  {
    name: "retention",
    description: "RetNet multi-scale retention, 4 heads, chunkwise",
    build: (c) => new MultiScaleRetention({ dModel: c.dModel, numHeads: HEADS, chunkSize: 64, seed: c.seed }) as unknown as MixerModule,
  },
  {
    name: "gla",
    description: "gated linear attention (Yang et al. 2024), 4 heads, chunked",
    build: (c) => new GatedLinearAttention({ dModel: c.dModel, numHeads: HEADS, chunkSize: 16, seed: c.seed }) as unknown as MixerModule,
  },
  {
    name: "deltanet",
    description: "DeltaNet (delta rule), 4 heads, short convolutions, chunked",
    build: (c) => new DeltaNet({ dModel: c.dModel, numHeads: HEADS, chunkSize: 32, seed: c.seed }) as unknown as MixerModule,
  },
  {
    name: "gated-deltanet",
    description: "gated DeltaNet (per-head decay, output gate), 4 heads, chunked",
    build: (c) => new DeltaNet({ dModel: c.dModel, numHeads: HEADS, gated: true, chunkSize: 32, seed: c.seed }) as unknown as MixerModule,
  },
  { name: "mamba", description: "Mamba (selective scan), N = 16, expand 2", build: mamba },
  {
    name: "mamba2",
    description: "Mamba-2 (SSD), N = 16, head dim 16, expand 2, chunks of 64",
    build: (c) => new Mamba2Mixer({ dModel: c.dModel, dState: 16, headDim: 16, chunkSize: 64, seed: c.seed }) as unknown as MixerModule,
  },
  { name: "s4d", description: "S4D (diagonal LTI SSM), N = 16, FFT convolution", build: (c) => new S4D({ dModel: c.dModel, dState: 16, seed: c.seed }) as unknown as MixerModule },
  {
    name: "lmu",
    description: "LMU (Legendre memory), order 16, window = sequence length, convolution form",
    build: (c) => new LMU({ dModel: c.dModel, order: 16, theta: c.seqLen, seed: c.seed }) as unknown as MixerModule,
  },
  { name: "hybrid", description: "Mamba in even layers, tiled softmax attention in odd layers", build: (c) => (c.layer % 2 === 0 ? mamba(c) : attention("softmax")(c)) },
];

export const MIXER_NAMES = MIXERS.map((m) => m.name);

export function mixerSpec(name: string): MixerSpec {
  const m = MIXERS.find((x) => x.name === name);
  if (!m) throw new Error(`unknown mixer '${name}' (${MIXER_NAMES.join(", ")})`);
  return m;
}

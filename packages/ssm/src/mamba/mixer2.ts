/**
 * The Mamba-2 mixer (Dao & Gu 2024; mamba_ssm `modules/mamba2.py`, Hugging Face
 * `Mamba2Mixer`), with their parameter names so `Mamba2ForCausalLM` weights load directly:
 *
 *   [z, xBC, dt] = in_proj(u)                     [Di | Di + 2 G N | H]
 *   xBC          = silu(conv1d(xBC))              depthwise causal over x, B and C together
 *   [x, B, C]    = xBC                            x [B, L, H, P]; B, C [B, L, G, N]
 *   dt           = clamp(softplus(dt + dt_bias), dtLimit)
 *   y            = ssd(x, dt, A = -exp(A_log), B, C, D)      scalar A per head
 *   out          = out_proj(rmsnorm(y * silu(z)) * norm.weight)   (gated RMSNorm, per group)
 *
 * Glossary: d_inner (Di) = expand * dModel = H * P (heads x headDim), ngroups (G), d_state (N).
 * State for decoding: conv [B, Di + 2GN, K-1] and ssm [B, H, P, N].
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { CausalConv1d } from "../conv";
import { dtBiasInit, generatorOf, type DtInitOptions } from "../init";
import type { DecayForm } from "../linear/decay";
import { GatedRMSNorm } from "../norm";
import { expectShape, fail, positiveInt, shp } from "../util";
import { ssd, ssdStep } from "./ssd";

export interface Mamba2Options extends DtInitOptions {
  dModel: number;
  /** N (default 64, as mamba_ssm's Mamba2). */
  dState?: number;
  dConv?: number;
  /** Di = expand * dModel (default 2). */
  expand?: number;
  /** P, channels per head (default 64); H = Di / P. */
  headDim?: number;
  /** G groups of B and C (default 1). */
  nGroups?: number;
  /** SSD chunk length (default 256). */
  chunkSize?: number;
  /** A = -U(lo, hi) per head at init (default [1, 16]). */
  aInitRange?: [number, number];
  /** dt is clamped to this range after the softplus (default [0, Infinity]: no clamp). */
  dtLimit?: [number, number];
  convBias?: boolean;
  bias?: boolean;
  /** Epsilon of the gated RMSNorm (default 1e-5). */
  normEps?: number;
  /**
   * Channels per normalisation group of the gated RMSNorm (default Di / nGroups, as mamba_ssm;
   * Hugging Face's torch path normalises all Di channels together, which is the same when
   * nGroups = 1).
   */
  normGroupSize?: number;
  /** SSD form (default 'chunked'). */
  ssdForm?: DecayForm;
  seed?: number | T.Generator;
  backend?: string;
}

export interface Mamba2State extends MixerState {
  /** [B, Di + 2GN, K-1] */
  conv: Tensor;
  /** [B, H, P, N] */
  ssm: Tensor;
}

export class Mamba2Mixer extends T.Module implements TokenMixer<Mamba2State> {
  readonly dModel: number;
  readonly dInner: number;
  readonly dState: number;
  readonly dConv: number;
  readonly headDim: number;
  readonly nHeads: number;
  readonly nGroups: number;
  readonly chunkSize: number;
  readonly dtLimit: [number, number];
  readonly in_proj: T.Linear;
  readonly conv1d: CausalConv1d;
  readonly dt_bias: Tensor;
  readonly A_log: Tensor;
  readonly D: Tensor;
  readonly norm: GatedRMSNorm;
  readonly out_proj: T.Linear;
  ssdForm: DecayForm;

  constructor(opts: Mamba2Options) {
    super();
    const op = "Mamba2Mixer";
    positiveInt(op, "dModel", opts.dModel);
    this.dModel = opts.dModel;
    this.dState = opts.dState ?? 64;
    this.dConv = opts.dConv ?? 4;
    this.dInner = Math.round((opts.expand ?? 2) * opts.dModel);
    this.headDim = opts.headDim ?? 64;
    this.nGroups = opts.nGroups ?? 1;
    this.chunkSize = opts.chunkSize ?? 256;
    for (const [k, v] of [
      ["dState", this.dState],
      ["dConv", this.dConv],
      ["headDim", this.headDim],
      ["nGroups", this.nGroups],
      ["chunkSize", this.chunkSize],
    ] as const)
      positiveInt(op, k, v);
    if (this.dInner % this.headDim !== 0) fail(op, `d_inner ${this.dInner} must be a multiple of headDim ${this.headDim}`);
    this.nHeads = this.dInner / this.headDim;
    if (this.nHeads % this.nGroups !== 0) fail(op, `nGroups ${this.nGroups} must divide the number of heads ${this.nHeads}`);
    this.dtLimit = opts.dtLimit ?? [0, Infinity];
    this.ssdForm = opts.ssdForm ?? "chunked";
    const gen = generatorOf(opts.seed);
    const o = { backend: opts.backend, seed: gen };
    const Di = this.dInner;
    const H = this.nHeads;
    const convDim = Di + 2 * this.nGroups * this.dState;
    this.in_proj = this.registerModule("in_proj", new T.Linear(this.dModel, Di + convDim + H, { ...o, bias: opts.bias ?? false }));
    this.conv1d = this.registerModule("conv1d", new CausalConv1d(convDim, this.dConv, { ...o, bias: opts.convBias ?? true }));
    this.dt_bias = this.registerParameter("dt_bias", dtBiasInit(H, opts, gen, opts.backend));
    const [lo, hi] = opts.aInitRange ?? [1, 16];
    if (!(lo > 0 && hi >= lo)) fail(op, `aInitRange [${lo}, ${hi}] must satisfy 0 < lo <= hi`);
    this.A_log = this.registerParameter(
      "A_log",
      T.tidy(() => T.log(T.uniform([H], lo, hi, o))),
    );
    this.D = this.registerParameter("D", T.ones([H], { backend: opts.backend }));
    this.norm = this.registerModule("norm", new GatedRMSNorm(Di, opts.normEps ?? 1e-5, opts.normGroupSize ?? Di / this.nGroups, { backend: opts.backend }));
    this.out_proj = this.registerModule("out_proj", new T.Linear(Di, this.dModel, { ...o, bias: opts.bias ?? false }));
  }

  initState(batch: number): Mamba2State {
    const backend = this.A_log.backend;
    return {
      conv: T.zeros([batch, this.dInner + 2 * this.nGroups * this.dState, this.dConv - 1], { backend }),
      ssm: T.zeros([batch, this.nHeads, this.headDim, this.dState], { backend }),
    };
  }

  private stepSizes(raw: Tensor): Tensor {
    const dt = T.softplus(T.add(raw, this.dt_bias));
    const [lo, hi] = this.dtLimit;
    return lo === 0 && hi === Infinity ? dt : T.clamp(dt, lo, hi);
  }

  private splitProj(zxbcdt: Tensor): [Tensor, Tensor, Tensor] {
    const Di = this.dInner;
    const [z, xBC, dt] = T.split(zxbcdt, [Di, Di + 2 * this.nGroups * this.dState, this.nHeads], -1);
    return [z, xBC, dt];
  }

  /** u [B, L, dModel] -> y [B, L, dModel]. */
  forward(u: Tensor, state?: Mamba2State): { y: Tensor; state: Mamba2State } {
    if (u.rank !== 3 || u.shape[2] !== this.dModel) fail("Mamba2Mixer", `input ${shp(u)} must be [B, L, dModel = ${this.dModel}]`);
    const [Bb, L] = u.shape;
    const { dInner: Di, nHeads: H, headDim: P, nGroups: G, dState: N } = this;
    const [z, xBC, dtRaw] = this.splitProj(this.in_proj.forward(u)); // [B, L, *]
    const conv = this.conv1d.forward(T.transpose(xBC, 1, 2), state?.conv, "silu"); // [B, Di + 2GN, L]
    const [x, Bm, Cm] = T.split(T.transpose(conv.y, 1, 2), [Di, G * N, G * N], -1);
    const r = ssd(T.reshape(x, [Bb, L, H, P]), this.stepSizes(dtRaw), T.neg(T.exp(this.A_log)), T.reshape(Bm, [Bb, L, G, N]), T.reshape(Cm, [Bb, L, G, N]), {
      D: this.D,
      initialState: state?.ssm,
      chunkSize: this.chunkSize,
      form: this.ssdForm,
    });
    const y = this.norm.forward(T.reshape(r.y, [Bb, L, Di]), z);
    return { y: this.out_proj.forward(y), state: { conv: conv.state, ssm: r.state } };
  }

  /** One token: u [B, dModel] -> y [B, dModel]. */
  step(u: Tensor, state: Mamba2State): { y: Tensor; state: Mamba2State } {
    expectShape("Mamba2Mixer.step", "input", u, [-1, this.dModel], `[B, dModel = ${this.dModel}]`);
    const Bb = u.shape[0];
    const { dInner: Di, nHeads: H, headDim: P, nGroups: G, dState: N } = this;
    const [z, xBC, dtRaw] = this.splitProj(this.in_proj.forward(u)); // [B, *]
    const conv = this.conv1d.step(xBC, state.conv, "silu"); // [B, Di + 2GN]
    const [x, Bm, Cm] = T.split(conv.y, [Di, G * N, G * N], -1);
    const r = ssdStep(state.ssm, T.reshape(x, [Bb, H, P]), this.stepSizes(dtRaw), T.neg(T.exp(this.A_log)), T.reshape(Bm, [Bb, G, N]), T.reshape(Cm, [Bb, G, N]), { D: this.D });
    const y = this.norm.forward(T.reshape(r.y, [Bb, Di]), z);
    return { y: this.out_proj.forward(y), state: { conv: conv.state, ssm: r.state } };
  }
}

/**
 * The Mamba mixer (Gu & Dao 2023, Figure 3; mamba_ssm `modules/mamba_simple.py::Mamba`),
 * with Hugging Face / mamba_ssm parameter names so `MambaForCausalLM` weights load directly:
 *
 *   [x, z]  = in_proj(u)                                  [B, L, 2 Di]
 *   x       = silu(conv1d(x))                             depthwise causal, kernel dConv
 *   [dt, B, C] = x_proj(x)                                [dtRank | N | N]
 *   dt      = dt_proj.weight @ dt   (+ dt_proj.bias inside the softplus)
 *   y       = selectiveScan(x, dt, A = -exp(A_log), B, C, D, z)
 *   out     = out_proj(y)
 *
 * Glossary: d_model -> dModel, d_inner (Di) = expand * dModel, d_state (N), d_conv (K),
 * dt_rank = ceil(dModel / 16). State for decoding: conv [B, Di, K-1] and ssm [B, Di, N].
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { CausalConv1d } from "../conv";
import { dtBiasInit, generatorOf, s4dRealLogA, type DtInitOptions } from "../init";
import { selectiveScan, type SelectiveScanImplementation } from "../selective/scan";
import { SELECTIVE_STATE_UPDATE } from "../selective/kernels";
import { selectiveStateUpdate } from "../selective/step";
import { expectShape, fail, positiveInt, shp } from "../util";

export interface MambaOptions extends DtInitOptions {
  dModel: number;
  /** N (default 16). */
  dState?: number;
  /** Kernel of the short convolution (default 4). */
  dConv?: number;
  /** Di = expand * dModel (default 2). */
  expand?: number;
  /** Rank of the dt projection (default ceil(dModel / 16)). */
  dtRank?: number;
  /** dt_proj.weight init: 'random' U(+-dtRank^-0.5 dtScale) (default) or 'constant'. */
  dtInit?: "random" | "constant";
  dtScale?: number;
  /** Bias in the short convolution (default true). */
  convBias?: boolean;
  /** Bias in in_proj and out_proj (default false). */
  bias?: boolean;
  /** Selective scan implementation (default 'auto'). */
  scanImplementation?: SelectiveScanImplementation;
  seed?: number | T.Generator;
  backend?: string;
}

export interface MambaState extends MixerState {
  /** The last K-1 inputs of the convolution. [B, Di, K-1] */
  conv: Tensor;
  /** The SSM state. [B, Di, N] */
  ssm: Tensor;
}

export class MambaMixer extends T.Module implements TokenMixer<MambaState> {
  readonly dModel: number;
  readonly dInner: number;
  readonly dState: number;
  readonly dConv: number;
  readonly dtRank: number;
  readonly in_proj: T.Linear;
  readonly conv1d: CausalConv1d;
  readonly x_proj: T.Linear;
  readonly dt_proj: T.Linear;
  readonly A_log: Tensor;
  readonly D: Tensor;
  readonly out_proj: T.Linear;
  scanImplementation: SelectiveScanImplementation;

  constructor(opts: MambaOptions) {
    super();
    const op = "MambaMixer";
    positiveInt(op, "dModel", opts.dModel);
    this.dModel = opts.dModel;
    this.dState = opts.dState ?? 16;
    this.dConv = opts.dConv ?? 4;
    this.dInner = Math.round((opts.expand ?? 2) * opts.dModel);
    this.dtRank = opts.dtRank ?? Math.ceil(opts.dModel / 16);
    for (const [k, v] of [
      ["dState", this.dState],
      ["dConv", this.dConv],
      ["dInner", this.dInner],
      ["dtRank", this.dtRank],
    ] as const)
      positiveInt(op, k, v);
    this.scanImplementation = opts.scanImplementation ?? "auto";
    const gen = generatorOf(opts.seed);
    const o = { backend: opts.backend, seed: gen };
    const Di = this.dInner;
    this.in_proj = this.registerModule("in_proj", new T.Linear(this.dModel, 2 * Di, { ...o, bias: opts.bias ?? false }));
    this.conv1d = this.registerModule("conv1d", new CausalConv1d(Di, this.dConv, { ...o, bias: opts.convBias ?? true }));
    this.x_proj = this.registerModule("x_proj", new T.Linear(Di, this.dtRank + 2 * this.dState, { ...o, bias: false }));
    this.dt_proj = this.registerModule("dt_proj", new T.Linear(this.dtRank, Di, o));
    const std = this.dtRank ** -0.5 * (opts.dtScale ?? 1);
    const dtW = (opts.dtInit ?? "random") === "random" ? T.uniform([Di, this.dtRank], -std, std, o) : T.full([Di, this.dtRank], std, { backend: opts.backend });
    T.assign(this.dt_proj.weight, dtW);
    const dtB = dtBiasInit(Di, opts, gen, opts.backend);
    T.assign(this.dt_proj.bias!, dtB);
    T.dispose([dtW, dtB]);
    this.A_log = this.registerParameter("A_log", s4dRealLogA(Di, this.dState, opts.backend));
    this.D = this.registerParameter("D", T.ones([Di], { backend: opts.backend }));
    this.out_proj = this.registerModule("out_proj", new T.Linear(Di, this.dModel, { ...o, bias: opts.bias ?? false }));
  }

  initState(batch: number): MambaState {
    const backend = this.A_log.backend;
    return { conv: T.zeros([batch, this.dInner, this.dConv - 1], { backend }), ssm: T.zeros([batch, this.dInner, this.dState], { backend }) };
  }

  /** u [B, L, dModel] -> y [B, L, dModel]. */
  forward(u: Tensor, state?: MambaState): { y: Tensor; state: MambaState } {
    if (u.rank !== 3 || u.shape[2] !== this.dModel) fail("MambaMixer", `input ${shp(u)} must be [B, L, dModel = ${this.dModel}]`);
    if (state && u.shape[1] === 1 && this.scanImplementation === "auto" && u.dtype === "float32" && T.hasKernel(SELECTIVE_STATE_UPDATE, u.backend)) {
      // One token after a state (decoding) where the backend has the fused step: the step's form,
      // whose state update is one kernel where no gradient is recorded (selectiveStateUpdate) — no
      // transposes or padding around a scan of length 1. Elsewhere (and for an explicit
      // scanImplementation) the scan serves it as before.
      const s = this.step(T.reshape(u, [u.shape[0], this.dModel]), state);
      return { y: T.unsqueeze(s.y, 1), state: s.state };
    }
    const N = this.dState;
    const xz = T.transpose(this.in_proj.forward(u), 1, 2); // [B, 2Di, L]
    const [xIn, z] = T.split(xz, 2, 1); // [B, Di, L] each
    const conv = this.conv1d.forward(xIn, state?.conv, "silu"); // [B, Di, L]
    const xDbl = this.x_proj.forward(T.transpose(conv.y, 1, 2)); // [B, L, dtRank + 2N]
    const [dtLow, Bm, Cm] = T.split(xDbl, [this.dtRank, N, N], -1);
    const dt = T.transpose(T.linear(dtLow, this.dt_proj.weight), 1, 2); // [B, Di, L] (bias added in the scan)
    const A = T.neg(T.exp(this.A_log)); // [Di, N]
    const scan = selectiveScan(conv.y, dt, A, T.transpose(Bm, 1, 2), T.transpose(Cm, 1, 2), {
      D: this.D,
      z,
      deltaBias: this.dt_proj.bias,
      deltaSoftplus: true,
      initialState: state?.ssm,
      implementation: this.scanImplementation,
    });
    const y = this.out_proj.forward(T.transpose(scan.y, 1, 2)); // [B, L, dModel]
    return { y, state: { conv: conv.state, ssm: scan.lastState } };
  }

  /** One token: u [B, dModel] -> y [B, dModel]. */
  step(u: Tensor, state: MambaState): { y: Tensor; state: MambaState } {
    expectShape("MambaMixer.step", "input", u, [-1, this.dModel], `[B, dModel = ${this.dModel}]`);
    const N = this.dState;
    const [xIn, z] = T.split(this.in_proj.forward(u), 2, -1); // [B, Di] each
    const conv = this.conv1d.step(xIn, state.conv, "silu"); // [B, Di]
    const [dtLow, Bm, Cm] = T.split(this.x_proj.forward(conv.y), [this.dtRank, N, N], -1);
    const dt = T.linear(dtLow, this.dt_proj.weight); // [B, Di]
    // A = -exp(A_log) inside the step (one kernel pass where it is fused)
    const s = selectiveStateUpdate(state.ssm, conv.y, dt, this.A_log, Bm, Cm, { D: this.D, z, dtBias: this.dt_proj.bias, dtSoftplus: true, aLog: true });
    return { y: this.out_proj.forward(s.y), state: { conv: conv.state, ssm: s.state } };
  }
}

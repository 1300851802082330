/**
 * Multi-scale retention, the token mixer of RetNet (Sun et al. 2023, section 2.2), with the
 * parameter names and defaults of flash-linear-attention's `MultiScaleRetention`:
 *
 *   q, k = rope(q_proj(x)), rope(k_proj(x))        H heads of Dk = dModel * expandK / H
 *   v    = v_proj(x)                                Dv = dModel * expandV / H
 *   o_h  = retention(q_h, k_h, v_h; gamma_h = 1 - 2^(-5-h))
 *   y    = o_proj(rmsnorm_h(o) * swish(g_proj(x)))  (per-head norm, then the output gate)
 *
 * State: S [B, H, Dk, Dv] and the position of the next token (for the rotary embedding).
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { retention, retentionStep } from "../linear/retention";
import { GatedRMSNorm } from "../norm";
import { fail } from "../util";
import { checkInput, headLayout, mergeHeads, splitHeads, stepHeads } from "./common";

export interface RetentionLayerOptions {
  dModel: number;
  /** H (default 8). */
  numHeads?: number;
  /** Key width = dModel * expandK (default 1). */
  expandK?: number;
  /** Value width = dModel * expandV (default 2). */
  expandV?: number;
  /** swish(g_proj(x)) gate on the output (default true). */
  outputGate?: boolean;
  /** Rotary embedding on q and k (default true; base ropeBase = 10000). */
  rotary?: boolean;
  ropeBase?: number;
  normEps?: number;
  /** Retention form (default 'chunkwise'). */
  form?: "parallel" | "recurrent" | "chunkwise";
  chunkSize?: number;
  seed?: number | T.Generator;
  backend?: string;
}

export interface RetentionState extends MixerState {
  S: Tensor;
  position: number;
}

export class MultiScaleRetention extends T.Module implements TokenMixer<RetentionState> {
  readonly dModel: number;
  readonly numHeads: number;
  readonly headK: number;
  readonly headV: number;
  readonly q_proj: T.Linear;
  readonly k_proj: T.Linear;
  readonly v_proj: T.Linear;
  readonly g_proj: T.Linear | null;
  readonly norm: GatedRMSNorm;
  readonly o_proj: T.Linear;
  form: "parallel" | "recurrent" | "chunkwise";
  private readonly o: RetentionLayerOptions;

  constructor(opts: RetentionLayerOptions) {
    super();
    const op = "MultiScaleRetention";
    this.o = opts;
    this.dModel = opts.dModel;
    this.numHeads = opts.numHeads ?? 8;
    const { kd, vd, headK, headV, lin } = headLayout(op, opts, this.numHeads, 1, 2);
    this.headK = headK;
    this.headV = headV;
    if ((opts.rotary ?? true) && this.headK % 2) fail(op, `the rotary embedding needs an even head key width, got ${this.headK}`);
    this.form = opts.form ?? "chunkwise";
    this.q_proj = this.registerModule("q_proj", lin(this.dModel, kd));
    this.k_proj = this.registerModule("k_proj", lin(this.dModel, kd));
    this.v_proj = this.registerModule("v_proj", lin(this.dModel, vd));
    const gate = opts.outputGate ?? true;
    this.g_proj = gate ? this.registerModule("g_proj", lin(this.dModel, vd)) : null;
    this.norm = this.registerModule(
      gate ? "g_norm_swish_gate" : "g_norm",
      new GatedRMSNorm(this.headV, opts.normEps ?? 1e-5, undefined, { backend: opts.backend, normBeforeGate: true }),
    );
    this.o_proj = this.registerModule("o_proj", lin(vd, this.dModel));
  }

  initState(batch: number): RetentionState {
    return { S: T.zeros([batch, this.numHeads, this.headK, this.headV], { backend: this.o_proj.weight.backend }), position: 0 };
  }

  private qk(x: Tensor, proj: T.Linear, offset: number): Tensor {
    const h = splitHeads(proj.forward(x), this.numHeads); // [B, H, T, Dk]
    return (this.o.rotary ?? true) ? T.rope(h, { offset, base: this.o.ropeBase ?? 10000 }) : h;
  }

  /** Per-head norm and output gate; o [..., H, Dv] -> [..., H * Dv], then o_proj. */
  private output(o: Tensor, x: Tensor): Tensor {
    const g = this.g_proj ? T.reshape(this.g_proj.forward(x), o.shape) : null;
    const y = this.norm.forward(o, g);
    return this.o_proj.forward(T.reshape(y, [...o.shape.slice(0, -2), this.numHeads * this.headV]));
  }

  forward(x: Tensor, state?: RetentionState): { y: Tensor; state: RetentionState } {
    checkInput("MultiScaleRetention", x, this.dModel, false);
    const pos = state?.position ?? 0;
    const q = this.qk(x, this.q_proj, pos);
    const k = this.qk(x, this.k_proj, pos);
    const v = splitHeads(this.v_proj.forward(x), this.numHeads); // [B, H, T, Dv]
    const r = retention(q, k, v, { form: this.form, chunkSize: this.o.chunkSize, initialState: state?.S });
    const o = T.reshape(mergeHeads(r.o), [x.shape[0], x.shape[1], this.numHeads, this.headV]); // [B, T, H, Dv]
    return { y: this.output(o, x), state: { S: r.state, position: pos + x.shape[1] } };
  }

  step(x: Tensor, state: RetentionState): { y: Tensor; state: RetentionState } {
    checkInput("MultiScaleRetention.step", x, this.dModel, true);
    const one = (proj: T.Linear) => T.squeeze(this.qk(T.unsqueeze(x, 1), proj, state.position), 2); // [B, H, Dk]
    const r = retentionStep(one(this.q_proj), one(this.k_proj), stepHeads(this.v_proj.forward(x), this.numHeads), state.S);
    return { y: this.output(r.o, x), state: { S: r.state, position: state.position + 1 } };
  }
}

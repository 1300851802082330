/**
 * The gated linear attention layer (Yang et al. 2024, section 4; flash-linear-attention
 * `GatedLinearAttention` names and defaults):
 *
 *   q, k = q_proj(x), k_proj(x)           H heads of Dk = dModel * expandK / H
 *   v    = v_proj(x)                      Dv = dModel * expandV / H
 *   gk   = logsigmoid(gk_proj(x)) / 16    low-rank gate: dModel -> 16 -> keys (gk_proj.0, gk_proj.1)
 *   o    = gla(q, k, v, gk)
 *   y    = o_proj(rmsnorm_h(o) * swish(g_proj(x)))
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { gla, glaStep } from "../linear/gla";
import { GatedRMSNorm } from "../norm";
import { checkInput, headLayout, mergeHeads, splitHeads, stepHeads } from "./common";

export interface GlaLayerOptions {
  dModel: number;
  /** H (default 4). */
  numHeads?: number;
  /** Key width = dModel * expandK (default 0.5). */
  expandK?: number;
  /** Value width = dModel * expandV (default 1). */
  expandV?: number;
  /** Rank of the gate projection (default 16). */
  gateLowRankDim?: number;
  /** gk = logsigmoid(.) / gateLogitNormalizer (default 16). */
  gateLogitNormalizer?: number;
  /** Lower bound for gk (default none). */
  clampMin?: number | null;
  normEps?: number;
  form?: "chunked" | "recurrent";
  chunkSize?: number;
  seed?: number | T.Generator;
  backend?: string;
}

export interface GlaState extends MixerState {
  S: Tensor;
}

export class GatedLinearAttention extends T.Module implements TokenMixer<GlaState> {
  readonly dModel: number;
  readonly numHeads: number;
  readonly headK: number;
  readonly headV: number;
  readonly q_proj: T.Linear;
  readonly k_proj: T.Linear;
  readonly v_proj: T.Linear;
  readonly g_proj: T.Linear;
  readonly gk_proj: T.ModuleList<T.Linear>;
  readonly g_norm_swish_gate: GatedRMSNorm;
  readonly o_proj: T.Linear;
  form: "chunked" | "recurrent";
  private readonly o: GlaLayerOptions;

  constructor(opts: GlaLayerOptions) {
    super();
    const op = "GatedLinearAttention";
    this.o = opts;
    this.dModel = opts.dModel;
    this.numHeads = opts.numHeads ?? 4;
    const { kd, vd, headK, headV, lin } = headLayout(op, opts, this.numHeads, 0.5, 1);
    this.headK = headK;
    this.headV = headV;
    this.form = opts.form ?? "chunked";
    const r = opts.gateLowRankDim ?? 16;
    this.q_proj = this.registerModule("q_proj", lin(this.dModel, kd));
    this.k_proj = this.registerModule("k_proj", lin(this.dModel, kd));
    this.v_proj = this.registerModule("v_proj", lin(this.dModel, vd));
    this.g_proj = this.registerModule("g_proj", lin(this.dModel, vd));
    this.gk_proj = this.registerModule("gk_proj", new T.ModuleList([lin(this.dModel, r), lin(r, kd, true)]));
    this.g_norm_swish_gate = this.registerModule(
      "g_norm_swish_gate",
      new GatedRMSNorm(this.headV, opts.normEps ?? 1e-5, undefined, { backend: opts.backend, normBeforeGate: true }),
    );
    this.o_proj = this.registerModule("o_proj", lin(vd, this.dModel));
  }

  initState(batch: number): GlaState {
    return { S: T.zeros([batch, this.numHeads, this.headK, this.headV], { backend: this.o_proj.weight.backend }) };
  }

  /** log-gates for x [..., dModel] -> [..., Kd] */
  private gates(x: Tensor): Tensor {
    const logits = this.gk_proj.at(1).forward(this.gk_proj.at(0).forward(x));
    const gk = T.div(T.logSigmoid(logits), this.o.gateLogitNormalizer ?? 16);
    return this.o.clampMin == null ? gk : T.maximum(gk, this.o.clampMin);
  }

  private output(o: Tensor, x: Tensor): Tensor {
    const y = this.g_norm_swish_gate.forward(o, T.reshape(this.g_proj.forward(x), o.shape));
    return this.o_proj.forward(T.reshape(y, [...o.shape.slice(0, -2), this.numHeads * this.headV]));
  }

  forward(x: Tensor, state?: GlaState): { y: Tensor; state: GlaState } {
    checkInput("GatedLinearAttention", x, this.dModel, false);
    const H = this.numHeads;
    const r = gla(splitHeads(this.q_proj.forward(x), H), splitHeads(this.k_proj.forward(x), H), splitHeads(this.v_proj.forward(x), H), splitHeads(this.gates(x), H), {
      form: this.form,
      chunkSize: this.o.chunkSize,
      initialState: state?.S,
    });
    const o = T.reshape(mergeHeads(r.o), [x.shape[0], x.shape[1], H, this.headV]);
    return { y: this.output(o, x), state: { S: r.state } };
  }

  step(x: Tensor, state: GlaState): { y: Tensor; state: GlaState } {
    checkInput("GatedLinearAttention.step", x, this.dModel, true);
    const H = this.numHeads;
    const r = glaStep(stepHeads(this.q_proj.forward(x), H), stepHeads(this.k_proj.forward(x), H), stepHeads(this.v_proj.forward(x), H), stepHeads(this.gates(x), H), state.S);
    return { y: this.output(r.o, x), state: { S: r.state } };
  }
}

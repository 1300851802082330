/**
 * DeltaNet and Gated DeltaNet layers (flash-linear-attention `DeltaNet` / `GatedDeltaNet`
 * names and defaults):
 *
 *   q, k, v = silu(shortconv(q_proj(x))), ...     short causal convolutions (kernel 4)
 *   q, k    = l2norm(q), l2norm(k)                 per head
 *   beta    = sigmoid(b_proj(x))                   one write strength per head and token
 *   g       = -exp(A_log) softplus(a_proj(x) + dt_bias)   (gated only: a Mamba-2 style decay)
 *   o       = deltaRule(q, k, v, beta, g)
 *   y       = o_proj(rmsnorm_h(o) [* swish(g_proj(x)) when gated])
 *
 * State: S [B, H, Dk, Dv] and the three convolution windows.
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { dtBiasInit } from "../init";
import { deltaRule, deltaRuleStep } from "../linear/delta";
import { GatedRMSNorm } from "../norm";
import { checkInput, headLayout, mergeHeads, ShortConvolution, splitHeads, stepHeads } from "./common";

export interface DeltaNetOptions {
  dModel: number;
  /** H (default 4). */
  numHeads?: number;
  /** Key width = dModel * expandK (default 1). */
  expandK?: number;
  /** Value width = dModel * expandV (default 1). */
  expandV?: number;
  /** Gated DeltaNet: a per-head decay and a swish output gate (default false). */
  gated?: boolean;
  /** Short convolutions on q, k, v (default true, kernel convSize = 4). */
  shortConv?: boolean;
  convSize?: number;
  normEps?: number;
  form?: "chunked" | "recurrent";
  chunkSize?: number;
  seed?: number | T.Generator;
  backend?: string;
}

export interface DeltaNetState extends MixerState {
  S: Tensor;
}

const l2norm = (x: Tensor): Tensor => T.div(x, T.sqrt(T.add(T.sum(T.square(x), -1, { keepdims: true }), 1e-6)));

export class DeltaNet extends T.Module implements TokenMixer<DeltaNetState> {
  readonly dModel: number;
  readonly numHeads: number;
  readonly headK: number;
  readonly headV: number;
  readonly gated: boolean;
  readonly q_proj: T.Linear;
  readonly k_proj: T.Linear;
  readonly v_proj: T.Linear;
  readonly b_proj: T.Linear;
  readonly a_proj: T.Linear | null = null;
  readonly A_log: Tensor | null = null;
  readonly dt_bias: Tensor | null = null;
  readonly g_proj: T.Linear | null = null;
  readonly convs: ShortConvolution[] | null;
  readonly o_norm: GatedRMSNorm;
  readonly o_proj: T.Linear;
  form: "chunked" | "recurrent";
  private readonly chunkSize?: number;

  constructor(opts: DeltaNetOptions) {
    super();
    const op = opts.gated ? "GatedDeltaNet" : "DeltaNet";
    this.dModel = opts.dModel;
    this.numHeads = opts.numHeads ?? 4;
    this.gated = opts.gated ?? false;
    const { kd, vd, headK, headV, lin, gen } = headLayout(op, opts, this.numHeads, 1, 1);
    this.headK = headK;
    this.headV = headV;
    this.form = opts.form ?? "chunked";
    this.chunkSize = opts.chunkSize;
    const o = { seed: gen, backend: opts.backend };
    const H = this.numHeads;
    this.q_proj = this.registerModule("q_proj", lin(this.dModel, kd));
    this.k_proj = this.registerModule("k_proj", lin(this.dModel, kd));
    this.v_proj = this.registerModule("v_proj", lin(this.dModel, vd));
    this.b_proj = this.registerModule("b_proj", lin(this.dModel, H));
    if (this.gated) {
      this.a_proj = this.registerModule("a_proj", lin(this.dModel, H));
      this.A_log = this.registerParameter("A_log", T.log(T.uniform([H], 1e-4, 16, o))); // A ~ U(0, 16]
      this.dt_bias = this.registerParameter("dt_bias", dtBiasInit(H, {}, gen, opts.backend));
      this.g_proj = this.registerModule("g_proj", lin(this.dModel, vd));
    }
    const K = opts.convSize ?? 4;
    this.convs =
      (opts.shortConv ?? true)
        ? [
            ["q_conv1d", kd],
            ["k_conv1d", kd],
            ["v_conv1d", vd],
          ].map(([name, c]) => this.registerModule(name as string, new ShortConvolution(c as number, K, o)))
        : null;
    this.o_norm = this.registerModule("o_norm", new GatedRMSNorm(this.headV, opts.normEps ?? 1e-5, undefined, { backend: opts.backend, normBeforeGate: true }));
    this.o_proj = this.registerModule("o_proj", lin(vd, this.dModel));
  }

  initState(batch: number): DeltaNetState {
    const s: DeltaNetState = { S: T.zeros([batch, this.numHeads, this.headK, this.headV], { backend: this.o_proj.weight.backend }) };
    this.convs?.forEach((c, i) => (s[`conv${i}`] = c.zeroState(batch)));
    return s;
  }

  /** q, k, v features (after the short convolutions), beta and the log-decay g. */
  private features(x: Tensor, state: DeltaNetState | undefined, step: boolean): { qkv: Tensor[]; beta: Tensor; g: Tensor | null; conv: Record<string, Tensor> } {
    const conv: Record<string, Tensor> = {};
    const qkv = [this.q_proj, this.k_proj, this.v_proj].map((p, i) => {
      const h = p.forward(x);
      const c = this.convs?.[i];
      if (!c) return i < 2 ? T.silu(h) : h; // FLA: silu on q and k; v only through its conv
      const st = state?.[`conv${i}`] as Tensor | undefined;
      const r = step ? c.runStep(h, st!) : c.run(h, st);
      conv[`conv${i}`] = r.state;
      return r.y;
    });
    const beta = T.sigmoid(this.b_proj.forward(x)); // [..., H]
    const g = this.gated ? T.mul(T.neg(T.exp(this.A_log!)), T.softplus(T.add(this.a_proj!.forward(x), this.dt_bias!))) : null;
    return { qkv, beta, g, conv };
  }

  private output(o: Tensor, x: Tensor): Tensor {
    const y = this.o_norm.forward(o, this.g_proj ? T.reshape(this.g_proj.forward(x), o.shape) : null);
    return this.o_proj.forward(T.reshape(y, [...o.shape.slice(0, -2), this.numHeads * this.headV]));
  }

  forward(x: Tensor, state?: DeltaNetState): { y: Tensor; state: DeltaNetState } {
    checkInput(this.gated ? "GatedDeltaNet" : "DeltaNet", x, this.dModel, false);
    const H = this.numHeads;
    const f = this.features(x, state, false);
    const [q, k, v] = f.qkv.map((t) => splitHeads(t, H)); // [B, H, T, D]
    const perHead = (t: Tensor) => T.transpose(t, 1, 2); // [B, T, H] -> [B, H, T]
    const r = deltaRule(l2norm(q), l2norm(k), v, perHead(f.beta), { g: f.g ? perHead(f.g) : null, initialState: state?.S, form: this.form, chunkSize: this.chunkSize });
    const o = T.reshape(mergeHeads(r.o), [x.shape[0], x.shape[1], H, this.headV]);
    return { y: this.output(o, x), state: { S: r.state, ...f.conv } };
  }

  step(x: Tensor, state: DeltaNetState): { y: Tensor; state: DeltaNetState } {
    checkInput(this.gated ? "GatedDeltaNet.step" : "DeltaNet.step", x, this.dModel, true);
    const H = this.numHeads;
    const f = this.features(x, state, true);
    const [q, k, v] = f.qkv.map((t) => stepHeads(t, H)); // [B, H, D]
    const r = deltaRuleStep(l2norm(q), l2norm(k), v, f.beta, state.S, { g: f.g });
    return { y: this.output(r.o, x), state: { S: r.state, ...f.conv } };
  }
}

/**
 * NeuralMemory: a Miras associative memory as a token mixer. Per head, keys and queries are
 * L2-normalised and mapped by phi_p (polynomialFeatures), and the gates come from the input:
 *
 *   eta_t   = softplus(eta_proj(x_t))       inner learning rate
 *   alpha_t = sigmoid(alpha_proj(x_t))      retention (1 keeps everything; bias starts at +4)
 *   theta_t = sigmoid(theta_proj(x_t))      momentum decay ('momentum' and 'muon')
 *   gamma_t = sigmoid(gamma_proj(x_t))      Omega-rule token weight (window > 1)
 *   o       = o_proj(associativeMemory(phi(q), phi(k), v))
 *
 * The memory's initial parameters are learned (`memory_0`, and `memory_1` for an MLP), as in
 * Titans. Presets (MEMORY_PRESETS) name the published configurations.
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { checkInput, mergeHeads, splitHeads, stepHeads } from "../layers/common";
import { fail, positiveInt } from "../util";
import { associativeMemory, associativeMemoryStep, createMemoryState } from "./associative";
import type { AssociativeState, MemoryConfig } from "./config";
import { resolveConfig } from "./config";
import { polynomialFeatures, polynomialWidth } from "./features";

export interface NeuralMemoryOptions extends MemoryConfig {
  dModel: number;
  /** H (default 4). */
  numHeads?: number;
  /** Key/value width per head (default dModel / numHeads). */
  headDim?: number;
  /** Degree p of the polynomial feature map on q and k (default 1: identity). */
  featureDegree?: number;
  /** Learn a retention gate (default true); false keeps alpha = 1. */
  retention?: boolean;
  /** 'chunked' (default) or 'recurrent'. */
  form?: "chunked" | "recurrent";
  seed?: number | T.Generator;
  backend?: string;
}

/** Published configurations as NeuralMemory options (combine with dModel etc.). */
export const MEMORY_PRESETS = {
  /** Linear attention: matrix memory, dot-product bias, no retention, plain GD. */
  linearAttention: { memory: "matrix", bias: "dot", optimizer: "gd", retention: false },
  /** DeltaNet: matrix memory, L2 bias, GD. */
  deltaNet: { memory: "matrix", bias: "l2", optimizer: "gd", retention: false },
  /** Titans (Behrouz et al. 2024): deep (MLP) memory, L2 bias, momentum, forgetting, mini-batches. */
  titans: { memory: { mlp: { hidden: 64 } }, bias: "l2", optimizer: "momentum", chunkSize: 16 },
  /** OmegaNet (ATLAS): the Omega rule over a window, polynomial features, GD. */
  omega: { memory: { mlp: { hidden: 64 } }, bias: "l2", optimizer: "gd", window: 8, featureDegree: 2, chunkSize: 16 },
  /** ATLAS: the Omega rule with the Muon optimiser. */
  atlas: { memory: { mlp: { hidden: 64 } }, bias: "l2", optimizer: "muon", window: 8, featureDegree: 2, chunkSize: 16 },
  /** Moneta (Miras): MLP memory, l_p bias (p = 3). */
  moneta: { memory: { mlp: { hidden: 64 } }, bias: { lp: 3, smooth: 10 }, optimizer: "gd", chunkSize: 16 },
  /** Yaad (Miras): MLP memory, Huber bias. */
  yaad: { memory: { mlp: { hidden: 64 } }, bias: { huber: 1 }, optimizer: "gd", chunkSize: 16 },
} as const satisfies Record<string, Omit<NeuralMemoryOptions, "dModel">>;

const l2norm = (x: Tensor): Tensor => T.div(x, T.sqrt(T.add(T.sum(T.square(x), -1, { keepdims: true }), 1e-6)));

export class NeuralMemory extends T.Module implements TokenMixer {
  readonly dModel: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly featureDim: number;
  readonly config: MemoryConfig;
  readonly q_proj: T.Linear;
  readonly k_proj: T.Linear;
  readonly v_proj: T.Linear;
  readonly eta_proj: T.Linear;
  readonly alpha_proj: T.Linear | null;
  readonly theta_proj: T.Linear | null;
  readonly gamma_proj: T.Linear | null;
  readonly memory: Tensor[];
  readonly o_proj: T.Linear;
  form: "chunked" | "recurrent";
  private readonly degree: number;

  constructor(opts: NeuralMemoryOptions) {
    super();
    const op = "NeuralMemory";
    positiveInt(op, "dModel", opts.dModel);
    this.dModel = opts.dModel;
    this.numHeads = opts.numHeads ?? 4;
    this.headDim = opts.headDim ?? opts.dModel / this.numHeads;
    positiveInt(op, "headDim", this.headDim);
    this.degree = opts.featureDegree ?? 1;
    positiveInt(op, "featureDegree", this.degree);
    this.featureDim = polynomialWidth(this.headDim, this.degree);
    this.config = { memory: opts.memory, bias: opts.bias, optimizer: opts.optimizer, nsSteps: opts.nsSteps, window: opts.window, chunkSize: opts.chunkSize };
    const cfg = resolveConfig(this.config);
    this.form = opts.form ?? "chunked";
    const gen = typeof opts.seed === "number" ? new T.Generator(opts.seed) : opts.seed;
    const o = { seed: gen, backend: opts.backend };
    const H = this.numHeads;
    const HD = H * this.headDim;
    const lin = (i: number, out: number, bias = false) => new T.Linear(i, out, { ...o, bias });
    this.q_proj = this.registerModule("q_proj", lin(this.dModel, HD));
    this.k_proj = this.registerModule("k_proj", lin(this.dModel, HD));
    this.v_proj = this.registerModule("v_proj", lin(this.dModel, HD));
    this.eta_proj = this.registerModule("eta_proj", lin(this.dModel, H, true));
    this.alpha_proj = (opts.retention ?? true) ? this.registerModule("alpha_proj", lin(this.dModel, H, true)) : null;
    if (this.alpha_proj) T.tidy(() => T.assign(this.alpha_proj!.bias!, T.full([H], 4, { backend: opts.backend }))); // alpha ~ 0.98 at init
    this.theta_proj = cfg.optimizer === "gd" ? null : this.registerModule("theta_proj", lin(this.dModel, H, true));
    this.gamma_proj = cfg.window > 1 ? this.registerModule("gamma_proj", lin(this.dModel, H, true)) : null;
    const shapes = cfg.arch.shapes(this.featureDim, this.headDim);
    const mlp = typeof opts.memory === "object";
    this.memory = shapes.map((s, i) => {
      const fanIn = s[0];
      const init = mlp ? T.uniform([H, ...s], -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), o) : T.zeros([H, ...s], { backend: opts.backend });
      return this.registerParameter(`memory_${i}`, init);
    });
    this.o_proj = this.registerModule("o_proj", lin(HD, this.dModel));
  }

  private gates(x: Tensor, perHead: (t: Tensor) => Tensor) {
    const g = (p: T.Linear | null, f: (t: Tensor) => Tensor) => (p ? perHead(f(p.forward(x))) : undefined);
    return {
      eta: perHead(T.softplus(this.eta_proj.forward(x))),
      alpha: g(this.alpha_proj, T.sigmoid) ?? 1,
      theta: g(this.theta_proj, T.sigmoid),
      gamma: g(this.gamma_proj, T.sigmoid),
    };
  }

  private qk(x: Tensor, proj: T.Linear, heads: (t: Tensor) => Tensor): Tensor {
    return polynomialFeatures(l2norm(heads(proj.forward(x))), this.degree);
  }

  initState(batch: number): MixerState {
    return flatten(createMemoryState(this.config, batch, this.numHeads, this.featureDim, this.headDim, { init: this.memory }));
  }

  forward(x: Tensor, state?: MixerState): { y: Tensor; state: MixerState } {
    checkInput("NeuralMemory", x, this.dModel, false);
    const H = this.numHeads;
    const heads = (t: Tensor) => splitHeads(t, H); // [B, H, T, D]
    const r = associativeMemory(
      this.qk(x, this.q_proj, heads),
      this.qk(x, this.k_proj, heads),
      heads(this.v_proj.forward(x)),
      this.gates(x, (t) => T.transpose(t, 1, 2)),
      this.config,
      {
        form: this.form,
        init: this.memory,
        initialState: state ? unflatten(state) : null,
      },
    );
    return { y: this.o_proj.forward(mergeHeads(r.o)), state: flatten(r.state) };
  }

  step(x: Tensor, state: MixerState): { y: Tensor; state: MixerState } {
    checkInput("NeuralMemory.step", x, this.dModel, true);
    const H = this.numHeads;
    const heads = (t: Tensor) => stepHeads(t, H); // [B, H, D]
    const r = associativeMemoryStep(
      this.qk(x, this.q_proj, heads),
      this.qk(x, this.k_proj, heads),
      heads(this.v_proj.forward(x)),
      this.gates(x, (t) => t),
      unflatten(state),
      this.config,
    );
    const o = T.reshape(r.o, [x.shape[0], H * this.headDim]);
    return { y: this.o_proj.forward(o), state: flatten(r.state) };
  }
}

/** AssociativeState <-> a flat MixerState (p0, p1, start0, ..., winK, winV, winG, position). */
function flatten(s: AssociativeState): MixerState {
  const out: MixerState = { winK: s.winK, winV: s.winV, winG: s.winG, position: s.position };
  s.params.forEach((p, i) => {
    out[`p${i}`] = p;
    out[`start${i}`] = s.start[i];
    out[`momentum${i}`] = s.momentum[i];
  });
  return out;
}

function unflatten(m: MixerState): AssociativeState {
  const list = (prefix: string): Tensor[] => {
    const out: Tensor[] = [];
    for (let i = 0; `${prefix}${i}` in m; i++) out.push(m[`${prefix}${i}`] as Tensor);
    return out;
  };
  if (typeof m.position !== "number" || !("p0" in m)) fail("NeuralMemory", "the state is not a NeuralMemory state (missing p0 / position)");
  return {
    params: list("p"),
    start: list("start"),
    momentum: list("momentum"),
    winK: m.winK as Tensor,
    winV: m.winV as Tensor,
    winG: m.winG as Tensor,
    position: m.position as number,
  };
}

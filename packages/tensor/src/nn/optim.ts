/**
 * Optimizers. Parameters are updated in place (`assign`), so modules keep their tensors.
 * Params and grads are given as matching records (from `gradients(f, module.namedParameters())`)
 * or arrays.
 */
import { keep, tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { zerosLike } from "../ops/creation";
import { add, div, mul, sqrt, sub } from "../ops/elementwise";
import { assign } from "../ops/inplace";

type ParamSet = readonly Tensor[] | Record<string, Tensor>;

function entries(params: ParamSet): [string, Tensor][] {
  return Array.isArray(params) ? params.map((t, i) => [String(i), t]) : Object.entries(params);
}

abstract class Optimizer {
  protected readonly params: [string, Tensor][];
  protected readonly state = new Map<string, Record<string, Tensor>>();
  /** Updates applied to each parameter so far (torch keeps a per-parameter step). */
  private readonly steps = new Map<string, number>();
  constructor(
    protected readonly name: string,
    params: ParamSet,
    public lr: number,
  ) {
    this.params = entries(params);
    if (!(lr > 0)) fail(name, `lr must be positive, got ${lr}`);
  }

  /** Applies one update with gradients shaped like the params (same keys or order). */
  step(grads: ParamSet): void {
    const g = new Map(entries(grads));
    for (const [k, p] of this.params) {
      const gk = g.get(k);
      if (!gk) continue; // no gradient: leave the parameter alone, as PyTorch does for grad None
      if (gk.size !== p.size || gk.rank !== p.rank) fail(this.name, `gradient for '${k}' has shape ${fmtShape(gk.shape)} but the parameter is ${fmtShape(p.shape)}`);
      const t = (this.steps.get(k) ?? 0) + 1;
      this.steps.set(k, t);
      tidy(() => {
        assign(p, this.update(k, p, gk, t));
      });
    }
  }

  /** The new value of parameter p at its step t (1-based), computed inside a tidy. */
  protected abstract update(key: string, p: Tensor, g: Tensor, t: number): Tensor;

  protected slot(key: string, name: string, like: Tensor): Tensor {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = {}));
    s[name] ??= keep(zerosLike(like, { dtype: "float32" }));
    return s[name];
  }

  /** Frees optimizer state. */
  dispose(): void {
    for (const s of this.state.values()) for (const t of Object.values(s)) t.dispose();
    this.state.clear();
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** SGD with momentum, as torch.optim.SGD (weight decay added to the gradient). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  constructor(params: ParamSet, opts: SGDOptions) {
    super("SGD", params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) fail("SGD", "nesterov needs momentum > 0 and dampening 0");
  }

  protected update(key: string, p: Tensor, grad: Tensor, t: number): Tensor {
    let g = this.weightDecay ? add(grad, mul(p, this.weightDecay)) : grad;
    if (this.momentum) {
      const buf = this.slot(key, "momentum", p);
      // torch: the buffer starts as g, then becomes mu*buf + (1-dampening)*g.
      assign(buf, t === 1 ? g : add(mul(buf, this.momentum), mul(g, 1 - this.dampening)));
      g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;
    }
    return sub(p, mul(g, this.lr));
  }
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (Loshchilov & Hutter 2019); torch's default is 0.01. */
  weightDecay?: number;
}

/** AdamW, as torch.optim.AdamW: p -= lr*wd*p; then the bias-corrected Adam step. */
export class AdamW extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  constructor(params: ParamSet, opts: AdamWOptions = {}) {
    super("AdamW", params, opts.lr ?? 1e-3);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  protected update(key: string, p: Tensor, g: Tensor, t: number): Tensor {
    const [b1, b2] = this.betas;
    const m = this.slot(key, "exp_avg", p);
    const v = this.slot(key, "exp_avg_sq", p);
    assign(m, add(mul(m, b1), mul(g, 1 - b1)));
    assign(v, add(mul(v, b2), mul(mul(g, g), 1 - b2)));
    const mhat = div(m, 1 - b1 ** t);
    const vhat = div(v, 1 - b2 ** t);
    const decayed = this.weightDecay ? mul(p, 1 - this.lr * this.weightDecay) : p;
    return sub(decayed, mul(div(mhat, add(sqrt(vhat), this.eps)), this.lr));
  }
}

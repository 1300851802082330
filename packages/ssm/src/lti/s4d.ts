/**
 * S4D: a diagonal linear time-invariant state space per channel (Gu et al. 2022, "On the
 * Parameterization and Initialization of Diagonal State Space Models"; state-spaces/s4
 * `models/s4/s4d.py`, whose names and defaults this follows). For each of H channels, M = N/2
 * complex modes (conjugate pairs, hence 2 Re):
 *
 *   A_m = -exp(log_A_real) + i A_imag   (S4D-Lin init: -1/2 + i pi m)
 *   dA  = exp(dt A)                     zero-order hold
 *   C'  = C (exp(dt A) - 1) / A         ZOH input matrix folded into C
 *   K_l = 2 Re sum_m C'_m dA_m^l        the convolution kernel (a Vandermonde product)
 *   y   = K * u + D u                   causal convolution, by FFT: O(L log L)
 *   out = GLU(W gelu(y) + b)            s4d.py's activation and output_linear (Conv1d k=1 + GLU)
 *
 * Recurrent form (decoding): x_t = dA x_{t-1} + u_t (complex [B, H, M]), y_t = 2 Re(C' . x_t) + D u_t.
 * Layout [B, T, H] (the token-mixer convention; s4d.py's transposed=True layout is [B, H, L]).
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { generatorOf } from "../init";
import { checkInput } from "../layers/common";
import { fail, positiveInt } from "../util";

/** A complex tensor as two real parts. */
interface Cx {
  re: Tensor;
  im: Tensor;
}
const cmul = (a: Cx, b: Cx): Cx => ({ re: T.sub(T.mul(a.re, b.re), T.mul(a.im, b.im)), im: T.add(T.mul(a.re, b.im), T.mul(a.im, b.re)) });
const cdiv = (a: Cx, b: Cx): Cx => {
  const den = T.add(T.square(b.re), T.square(b.im));
  return { re: T.div(T.add(T.mul(a.re, b.re), T.mul(a.im, b.im)), den), im: T.div(T.sub(T.mul(a.im, b.re), T.mul(a.re, b.im)), den) };
};
/** exp(a + ib) = exp(a) (cos b + i sin b) */
const cexp = (z: Cx): Cx => {
  const m = T.exp(z.re);
  return { re: T.mul(m, T.cos(z.im)), im: T.mul(m, T.sin(z.im)) };
};

export interface S4DOptions {
  /** H channels. */
  dModel: number;
  /** N: state size, M = N/2 complex modes (default 64). */
  dState?: number;
  dtMin?: number;
  dtMax?: number;
  /** 'convolution' (FFT, default) or 'recurrent'. */
  form?: "convolution" | "recurrent";
  seed?: number | T.Generator;
  backend?: string;
}

export interface S4DState extends MixerState {
  /** Complex mode states: real and imaginary parts [B, H, M]. */
  re: Tensor;
  im: Tensor;
}

/** The S4D kernel parameters (s4d.py `S4DKernel`). */
export class S4DKernel extends T.Module {
  readonly log_dt: Tensor;
  /** [H, M, 2] (view_as_real of a complex [H, M]) */
  readonly C: Tensor;
  readonly log_A_real: Tensor;
  readonly A_imag: Tensor;

  constructor(
    readonly H: number,
    readonly M: number,
    opts: S4DOptions,
  ) {
    super();
    const o = { seed: generatorOf(opts.seed), backend: opts.backend };
    this.log_dt = this.registerParameter("log_dt", T.uniform([H], Math.log(opts.dtMin ?? 0.001), Math.log(opts.dtMax ?? 0.1), o));
    this.C = this.registerParameter("C", T.normal([H, M, 2], 0, Math.SQRT1_2, o)); // CN(0, 1)
    this.log_A_real = this.registerParameter("log_A_real", T.full([H, M], Math.log(0.5), { backend: opts.backend }));
    const imag = new Float32Array(H * M);
    for (let i = 0; i < H * M; i++) imag[i] = Math.PI * (i % M);
    this.A_imag = this.registerParameter("A_imag", T.tensor(imag, { shape: [H, M], backend: opts.backend }));
  }

  /** dt A, complex [H, M]. */
  private dtA(): Cx {
    const dt = T.unsqueeze(T.exp(this.log_dt), -1); // [H, 1]
    return { re: T.mul(T.neg(T.exp(this.log_A_real)), dt), im: T.mul(this.A_imag, dt) };
  }

  /** dA = exp(dt A) and C' = C (dA - 1) / A, complex [H, M]. */
  discretize(): { dA: Cx; Cp: Cx } {
    const dA = cexp(this.dtA());
    const A = { re: T.neg(T.exp(this.log_A_real)), im: this.A_imag };
    const C = { re: T.select(this.C, -1, 0), im: T.select(this.C, -1, 1) };
    return { dA, Cp: cmul(C, cdiv({ re: T.sub(dA.re, 1), im: dA.im }, A)) };
  }

  /** dA^p = exp(p dt A) for p = 0 .. P-1, complex [H, M, P]. */
  powers(P: number): Cx {
    const z = this.dtA();
    const p = T.arange(0, P, 1, { backend: this.C.backend }); // [P]
    return cexp({ re: T.mul(T.unsqueeze(z.re, -1), p), im: T.mul(T.unsqueeze(z.im, -1), p) });
  }

  /** K [H, L] (the Vandermonde product, 2 Re sum_m C'_m dA_m^l). */
  kernel(L: number): Tensor {
    const { Cp } = this.discretize();
    const pw = this.powers(L);
    const terms = cmul({ re: T.unsqueeze(Cp.re, -1), im: T.unsqueeze(Cp.im, -1) }, pw).re; // [H, M, L]
    return T.mul(T.sum(terms, 1), 2);
  }
}

/** s4d.py's output_linear[0]: a pointwise Conv1d(H, 2H, 1) (weight [2H, H, 1]). */
class PointwiseConv extends T.Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(inC: number, outC: number, opts: { seed?: T.Generator; backend?: string }) {
    super();
    const bound = 1 / Math.sqrt(inC);
    this.weight = this.registerParameter("weight", T.uniform([outC, inC, 1], -bound, bound, opts));
    this.bias = this.registerParameter("bias", T.uniform([outC], -bound, bound, opts));
  }

  forward(x: Tensor): Tensor {
    return T.linear(x, T.squeeze(this.weight, -1), this.bias); // [..., outC]
  }
}

export class S4D extends T.Module implements TokenMixer<S4DState> {
  readonly H: number;
  readonly M: number;
  readonly D: Tensor;
  readonly kernel: S4DKernel;
  readonly output_linear: T.ModuleList<PointwiseConv>;
  form: "convolution" | "recurrent";

  constructor(opts: S4DOptions) {
    super();
    positiveInt("S4D", "dModel", opts.dModel);
    const N = opts.dState ?? 64;
    if (!Number.isInteger(N) || N < 2 || N % 2) fail("S4D", `dState must be a positive even integer (N/2 complex modes), got ${N}`);
    this.H = opts.dModel;
    this.M = N / 2;
    this.form = opts.form ?? "convolution";
    const gen = generatorOf(opts.seed);
    const o = { ...opts, seed: gen };
    this.D = this.registerParameter("D", T.normal([this.H], 0, 1, { seed: gen, backend: opts.backend }));
    this.kernel = this.registerModule("kernel", new S4DKernel(this.H, this.M, o));
    this.output_linear = this.registerModule("output_linear", new T.ModuleList([new PointwiseConv(this.H, 2 * this.H, { seed: gen, backend: opts.backend })]));
  }

  initState(batch: number): S4DState {
    const z = () => T.zeros([batch, this.H, this.M], { backend: this.D.backend });
    return { re: z(), im: z() };
  }

  /** gelu, then GLU(W y + b) over channels. y [..., H] */
  private head(y: Tensor): Tensor {
    const [a, b] = T.split(this.output_linear.at(0).forward(T.gelu(y)), 2, -1);
    return T.mul(a, T.sigmoid(b));
  }

  forward(x: Tensor, state?: S4DState): { y: Tensor; state: S4DState } {
    checkInput("S4D", x, this.H, false);
    if (this.form === "recurrent") return this.recurrent(x, state ?? this.initState(x.shape[0]));
    if (this.form !== "convolution") fail("S4D", `unknown form '${String(this.form)}' (convolution, recurrent)`);
    const L = x.shape[1];
    const u = T.transpose(x, 1, 2); // [B, H, L]
    let y = T.add(T.fftConv(u, this.kernel.kernel(L)), T.mul(u, T.unsqueeze(this.D, -1))); // [B, H, L]
    const { Cp } = this.kernel.discretize();
    const pw = this.kernel.powers(L + 1); // dA^p, p = 0 .. L  [H, M, L+1]
    const s0 = state;
    if (s0) {
      // the carried state's response: y_t += 2 Re sum_m C'_m dA_m^(t+1) x0_m
      const powT = { re: T.narrow(pw.re, -1, 1, L), im: T.narrow(pw.im, -1, 1, L) }; // [H, M, L]
      const cx = cmul({ re: T.unsqueeze(Cp.re, -1), im: T.unsqueeze(Cp.im, -1) }, powT); // [H, M, L]
      const x0 = { re: T.unsqueeze(s0.re, -1), im: T.unsqueeze(s0.im, -1) }; // [B, H, M, 1]
      y = T.add(y, T.mul(T.sum(cmul(cx, x0).re, 2), 2));
    }
    // final state x_{L-1} = dA^L x0 + sum_s dA^(L-1-s) u_s
    const rev = { re: T.flip(T.narrow(pw.re, -1, 0, L), [-1]), im: T.flip(T.narrow(pw.im, -1, 0, L), [-1]) }; // dA^(L-1-s)
    const uCol = T.unsqueeze(u, -1); // [B, H, L, 1]
    let re = T.squeeze(T.matmul(T.unsqueeze(rev.re, 0), uCol), -1); // [B, H, M]
    let im = T.squeeze(T.matmul(T.unsqueeze(rev.im, 0), uCol), -1);
    if (s0) {
      const last = cmul({ re: T.select(pw.re, -1, L), im: T.select(pw.im, -1, L) }, s0);
      re = T.add(re, last.re);
      im = T.add(im, last.im);
    }
    return { y: this.head(T.transpose(y, 1, 2)), state: { re, im } };
  }

  private recurrent(x: Tensor, state: S4DState): { y: Tensor; state: S4DState } {
    const { dA, Cp } = this.kernel.discretize();
    let s: Cx = { re: state.re, im: state.im };
    const ys: Tensor[] = [];
    for (let t = 0; t < x.shape[1]; t++) {
      const r = this.advance(T.select(x, 1, t), s, dA, Cp);
      ys.push(r.y);
      s = r.s;
    }
    return { y: this.head(T.stack(ys, 1)), state: { re: s.re, im: s.im } };
  }

  /** x_t = dA x_{t-1} + u_t, y_t = 2 Re(C' . x_t) + D u_t. u [B, H] */
  private advance(u: Tensor, s: Cx, dA: Cx, Cp: Cx): { y: Tensor; s: Cx } {
    const decayed = cmul(s, dA); // [B, H, M]
    const next = { re: T.add(decayed.re, T.unsqueeze(u, -1)), im: decayed.im };
    const y = T.add(T.mul(T.sum(cmul(next, Cp).re, -1), 2), T.mul(u, this.D)); // [B, H]
    return { y, s: next };
  }

  step(x: Tensor, state: S4DState): { y: Tensor; state: S4DState } {
    checkInput("S4D.step", x, this.H, true);
    const { dA, Cp } = this.kernel.discretize();
    const r = this.advance(x, { re: state.re, im: state.im }, dA, Cp);
    return { y: this.head(r.y), state: { re: r.s.re, im: r.s.im } };
  }
}

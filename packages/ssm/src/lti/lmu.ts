/**
 * The Legendre Memory Unit (Voelker, Kajic & Eliasmith 2019; nengo/keras-lmu `LMUCell` and
 * `LMUFFT`). A linear memory of `order` Legendre coefficients approximates the last `theta`
 * steps of its input optimally (the delay network):
 *
 *   A_ij = (2i+1)/theta * (-1 if i < j else (-1)^(i-j+1)),  B_i = (2i+1)/theta * (-1)^i
 *   Abar, Bbar = zero-order hold of (A, B) with dt = 1 (matrix exponential, expm.ts)
 *   u_t = e_x x_t [+ e_h h_{t-1}] [+ e_m m_{t-1}]      memoryD input channels
 *   m_t = Abar m_{t-1} + Bbar u_t                      per channel [order]
 *   h_t = tanh(W [x_t, m_t] + b)                       the hidden cell (feed-forward, as LMUFFT)
 *
 * Without recurrent connections into the memory the memory is a linear time-invariant
 * filter of u with impulse response H_t = Abar^t Bbar, so a whole sequence is one FFT
 * convolution (form 'convolution', LMUFFT); 'recurrent' steps the cell.
 */
import * as T from "@tessera/tensor";
import type { MixerState, Tensor, TokenMixer } from "@tessera/tensor";
import { generatorOf } from "../init";
import { checkInput } from "../layers/common";
import { fail, positiveInt } from "../util";
import { matmul, type Matrix, zeroOrderHold } from "./expm";

/** The continuous-time Legendre delay system of `order` for a window of `theta` steps. */
export function legendreSystem(order: number, theta: number): { A: Matrix; B: number[] } {
  const A: Matrix = [];
  const B: number[] = [];
  for (let i = 0; i < order; i++) {
    const r = (2 * i + 1) / theta;
    A.push(Array.from({ length: order }, (_, j) => r * (i < j ? -1 : (-1) ** (i - j + 1))));
    B.push(r * (-1) ** i);
  }
  return { A, B };
}

export interface LMUOptions {
  /** Input (and by default output) width. */
  dModel: number;
  /** Legendre coefficients per memory channel. */
  order: number;
  /** Window length in steps. */
  theta: number;
  /** Memory channels (default 1). */
  memoryD?: number;
  /** Output width of the hidden cell (default dModel). */
  hiddenSize?: number;
  /** Feed x_t to the hidden cell too (default true). */
  inputToHidden?: boolean;
  /** Recurrent connections into the memory (default false; they rule out the convolution form). */
  hiddenToMemory?: boolean;
  memoryToMemory?: boolean;
  /** 'convolution' (default when allowed) or 'recurrent'. */
  form?: "convolution" | "recurrent";
  seed?: number | T.Generator;
  backend?: string;
}

export interface LMUState extends MixerState {
  /** [B, memoryD, order] */
  m: Tensor;
  /** The last output [B, hiddenSize] (read only with hiddenToMemory). */
  h: Tensor;
}

export class LMU extends T.Module implements TokenMixer<LMUState> {
  readonly dModel: number;
  readonly order: number;
  readonly theta: number;
  readonly memoryD: number;
  readonly hiddenSize: number;
  readonly inputToHidden: boolean;
  /** Abar [order, order] and Bbar [order] (buffers). */
  readonly Abar: Tensor;
  readonly Bbar: Tensor;
  readonly input_encoders: T.Linear;
  readonly hidden_encoders: T.Linear | null;
  readonly memory_encoders: T.Linear | null;
  readonly hidden: T.Linear;
  form: "convolution" | "recurrent";
  private readonly abar: Matrix;
  private readonly bbar: number[];

  constructor(opts: LMUOptions) {
    super();
    const op = "LMU";
    positiveInt(op, "dModel", opts.dModel);
    positiveInt(op, "order", opts.order);
    if (!(opts.theta > 0)) fail(op, `theta must be positive, got ${opts.theta}`);
    this.dModel = opts.dModel;
    this.order = opts.order;
    this.theta = opts.theta;
    this.memoryD = opts.memoryD ?? 1;
    this.hiddenSize = opts.hiddenSize ?? opts.dModel;
    positiveInt(op, "memoryD", this.memoryD);
    positiveInt(op, "hiddenSize", this.hiddenSize);
    this.inputToHidden = opts.inputToHidden ?? true;
    const recurrentMemory = (opts.hiddenToMemory ?? false) || (opts.memoryToMemory ?? false);
    this.form = opts.form ?? (recurrentMemory ? "recurrent" : "convolution");
    if (this.form === "convolution" && recurrentMemory) fail(op, "the convolution form needs a memory without recurrent connections (hiddenToMemory and memoryToMemory false)");
    const { A, B } = legendreSystem(this.order, this.theta);
    ({ Abar: this.abar, Bbar: this.bbar } = zeroOrderHold(A, B, 1));
    this.Abar = this.registerBuffer("Abar", T.tensor(Float32Array.from(this.abar.flat()), { shape: [this.order, this.order], backend: opts.backend }));
    this.Bbar = this.registerBuffer("Bbar", T.tensor(Float32Array.from(this.bbar), { backend: opts.backend }));
    const o = { seed: generatorOf(opts.seed), backend: opts.backend };
    const md = this.memoryD;
    this.input_encoders = this.registerModule("input_encoders", new T.Linear(this.dModel, md, { ...o, bias: false }));
    this.hidden_encoders = opts.hiddenToMemory ? this.registerModule("hidden_encoders", new T.Linear(this.hiddenSize, md, { ...o, bias: false })) : null;
    this.memory_encoders = opts.memoryToMemory ? this.registerModule("memory_encoders", new T.Linear(md * this.order, md, { ...o, bias: false })) : null;
    this.hidden = this.registerModule("hidden", new T.Linear((this.inputToHidden ? this.dModel : 0) + md * this.order, this.hiddenSize, o));
  }

  initState(batch: number): LMUState {
    const backend = this.Abar.backend;
    return { m: T.zeros([batch, this.memoryD, this.order], { backend }), h: T.zeros([batch, this.hiddenSize], { backend }) };
  }

  /** h = tanh(W [x, m] + b). x [..., dModel], m [..., memoryD * order] */
  private cell(x: Tensor, m: Tensor): Tensor {
    return T.tanh(this.hidden.forward(this.inputToHidden ? T.concat([x, m], -1) : m));
  }

  step(x: Tensor, state: LMUState): { y: Tensor; state: LMUState } {
    checkInput("LMU.step", x, this.dModel, true);
    const Bb = x.shape[0];
    let u = this.input_encoders.forward(x); // [B, memoryD]
    if (this.hidden_encoders) u = T.add(u, this.hidden_encoders.forward(state.h));
    if (this.memory_encoders) u = T.add(u, this.memory_encoders.forward(T.reshape(state.m, [Bb, this.memoryD * this.order])));
    const m = T.add(T.matmul(state.m, T.transpose(this.Abar, 0, 1)), T.mul(T.unsqueeze(u, -1), this.Bbar)); // [B, memoryD, order]
    const h = this.cell(x, T.reshape(m, [Bb, this.memoryD * this.order]));
    return { y: h, state: { m, h } };
  }

  forward(x: Tensor, state?: LMUState): { y: Tensor; state: LMUState } {
    checkInput("LMU", x, this.dModel, false);
    const s0 = state ?? this.initState(x.shape[0]);
    if (this.form === "recurrent") {
      let s = s0;
      const ys: Tensor[] = [];
      for (let t = 0; t < x.shape[1]; t++) {
        const r = this.step(T.select(x, 1, t), s);
        ys.push(r.y);
        s = r.state;
      }
      return { y: T.stack(ys, 1), state: s };
    }
    if (this.form !== "convolution") fail("LMU", `unknown form '${String(this.form)}' (convolution, recurrent)`);
    if (this.hidden_encoders || this.memory_encoders) fail("LMU", "the convolution form needs a memory without recurrent connections");
    return this.convolution(x, state);
  }

  /** Impulse response H_t = Abar^t Bbar, t < L: [order, L] (float64 powers, stored float32). */
  private impulse(L: number): Tensor {
    const n = this.order;
    const out = new Float32Array(n * L);
    let v = this.bbar.map((b) => [b]);
    for (let t = 0; t < L; t++) {
      for (let i = 0; i < n; i++) out[i * L + t] = v[i][0];
      v = matmul(this.abar, v);
    }
    return T.tensor(out, { shape: [n, L], backend: this.Abar.backend });
  }

  /** Zero-input response Abar^(t+1) m0 for t < L by doubling: [B, memoryD, order, L]. */
  private stateResponse(m0: Tensor, L: number): Tensor {
    let power = this.abar; // Abar^n for the current block length n
    let R = T.unsqueeze(T.matmul(m0, T.transpose(this.Abar, 0, 1)), -1); // [B, D, order, 1]: Abar m0
    for (let n = 1; n < L; n *= 2) {
      const P = T.tensor(Float32Array.from(power.flat()), { shape: [this.order, this.order], backend: this.Abar.backend });
      R = T.concat([R, T.matmul(P, R)], -1); // responses at t + n
      power = matmul(power, power);
    }
    return T.narrow(R, -1, 0, L);
  }

  private convolution(x: Tensor, s0: LMUState | undefined): { y: Tensor; state: LMUState } {
    const [Bb, L] = x.shape;
    const u = T.transpose(this.input_encoders.forward(x), 1, 2); // [B, memoryD, L]
    let m = T.fftConv(T.unsqueeze(u, 2), this.impulse(L)); // [B, memoryD, order, L]
    if (s0) m = T.add(m, this.stateResponse(s0.m, L));
    const mFlat = T.reshape(T.permute(m, [0, 3, 1, 2]), [Bb, L, this.memoryD * this.order]); // [B, L, memoryD * order]
    const y = this.cell(x, mFlat); // [B, L, hiddenSize]
    return { y, state: { m: T.select(m, -1, L - 1), h: T.select(y, 1, L - 1) } };
  }
}

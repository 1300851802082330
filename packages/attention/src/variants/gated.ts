/**
 * Gated attention (Bondarenko et al. 2023, "Quantizable Transformers"): each head's output is
 * scaled by a sigmoid gate computed from the block's input x, so a head can switch itself off
 * without the outlier logits that a "no-op" softmax head needs:
 *   context_h <- context_h * sigmoid(G_h(x_h)),   x_h = the h-th head slice of x [B, T, D].
 * Gate types (as the paper's code):
 *   'per-token'  G_h: Linear(D/H, 1), or a small MLP Linear(D/H, D/(4H)) -> ReLU -> Linear(., 1)
 *   'per-head'   G_h applied to the token mean of x_h (one gate per sequence and head)
 *   'unconditional' a learned scalar per head
 * `init` sets the initial gate value (the bias is logit(init)); the paper uses 0.25 for OPT.
 */
import { Module, add, mean, mul, normal, relu, reshape, sigmoid, transpose, full, matmul, zeros, type Tensor } from "@tessera/tensor";
import { fail } from "../shapes";

export interface AttentionGateOptions {
  type?: "per-token" | "per-head" | "unconditional";
  mlp?: boolean;
  /** Initial gate value in (0, 1) (default 0.5). */
  init?: number;
  seed?: number;
  backend?: string;
}

export class AttentionGate extends Module {
  readonly type: "per-token" | "per-head" | "unconditional";
  /** Per-head linear maps, batched over heads: [H, Dh, out] and [H, 1, out]. */
  private readonly w1: Tensor | null = null;
  private readonly b1: Tensor | null = null;
  private readonly w2: Tensor | null = null;
  private readonly b2: Tensor;
  constructor(
    readonly dModel: number,
    readonly heads: number,
    opts: AttentionGateOptions = {},
  ) {
    super();
    if (dModel % heads !== 0) fail("AttentionGate", `dModel ${dModel} is not divisible by heads ${heads}`);
    this.type = opts.type ?? "per-token";
    const init = opts.init ?? 0.5;
    if (!(init > 0 && init < 1)) fail("AttentionGate", `init must lie in (0, 1), got ${init}`);
    const logit = Math.log(init / (1 - init));
    const dh = dModel / heads;
    const b = opts.backend;
    const seed = opts.seed ?? 0;
    if (this.type === "unconditional") {
      this.b2 = this.registerParameter("gate", full([heads], logit, { backend: b }));
      return;
    }
    const hidden = opts.mlp ? Math.max(1, Math.floor(dh / 4)) : 1;
    this.w1 = this.registerParameter("w1", normal([heads, dh, hidden], 0, 1 / Math.sqrt(dh), { seed, backend: b }));
    if (opts.mlp) {
      this.b1 = this.registerParameter("b1", zeros([heads, 1, hidden], { backend: b }));
      this.w2 = this.registerParameter("w2", normal([heads, hidden, 1], 0, 1 / Math.sqrt(hidden), { seed: seed + 1, backend: b }));
    }
    this.b2 = this.registerParameter("bias", full([heads, 1, 1], logit, { backend: b }));
  }

  /** Gate logits for x [B, T, D]: [B, H, T, 1] ('per-token'), [B, H, 1, 1] or [1, H, 1, 1]. */
  logits(x: Tensor): Tensor {
    if (this.type === "unconditional") return reshape(this.b2, [1, this.heads, 1, 1]);
    const [B, T] = x.shape;
    let xh = transpose(reshape(x, [B, T, this.heads, this.dModel / this.heads]), 1, 2); // [B, H, T, Dh]
    if (this.type === "per-head") xh = mean(xh, 2, { keepdims: true }); // [B, H, 1, Dh]
    let h = matmul(xh, this.w1!); // [B, H, T, hidden]
    if (this.w2) h = matmul(relu(add(h, this.b1!)), this.w2);
    return add(h, this.b2);
  }

  /** context [B, H, T, Dv] gated by sigmoid(G(x)). */
  forward(context: Tensor, x: Tensor): Tensor {
    return mul(context, sigmoid(this.logits(x)));
  }
}

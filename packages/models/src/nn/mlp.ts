/**
 * The channel MLP of a Transformer block.
 *  - plain: down(act(up(x)))                      (GPT-2, BERT, ViT)
 *  - gated: down(act(gate(x)) * up(x))            (Llama's SwiGLU, Shazeer 2020 "GLU Variants")
 * `hidden` is the inner width (4 d for GPT-2, intermediate_size for the others).
 */
import { Module, mul, type Generator, type Tensor } from "@tessera/tensor";
import { activate, checkActivation, type Activation } from "./activation";
import { Projection, type ProjectionOptions } from "./projection";
import { initGenerator } from "./init";

export interface MLPOptions {
  dModel: number;
  hidden: number;
  activation?: Activation;
  /** SwiGLU-style gate (Llama). Default false. */
  gated?: boolean;
  bias?: boolean;
  layout?: ProjectionOptions["layout"];
  initStd?: number;
  seed?: number | Generator;
  backend?: string;
}

export class MLP extends Module {
  readonly up: Projection;
  readonly gate: Projection | null;
  readonly down: Projection;
  readonly activation: Activation;
  constructor(opts: MLPOptions) {
    super();
    this.activation = checkActivation("MLP", opts.activation ?? "gelu");
    const p = { bias: opts.bias ?? true, layout: opts.layout, initStd: opts.initStd, seed: initGenerator(opts.seed), backend: opts.backend }; // one stream: gate, up and down differ
    this.gate = opts.gated ? this.registerModule("gate", new Projection(opts.dModel, opts.hidden, p)) : null;
    this.up = this.registerModule("up", new Projection(opts.dModel, opts.hidden, p));
    this.down = this.registerModule("down", new Projection(opts.hidden, opts.dModel, p));
  }

  /** x [B, T, D] -> [B, T, D] */
  forward(x: Tensor): Tensor {
    const h = this.gate ? mul(activate(this.gate.forward(x), this.activation), this.up.forward(x)) : activate(this.up.forward(x), this.activation);
    return this.down.forward(h);
  }
}

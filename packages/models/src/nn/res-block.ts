/**
 * The convolutional residual block of VQGAN's encoder and decoder (Esser et al. 2021,
 * taming-transformers `ResnetBlock`, without dropout and time embedding):
 *   h = conv3x3(silu(groupNorm(x)));  h = conv3x3(silu(groupNorm(h)));  out = skip(x) + h
 * skip is the identity, or a 1x1 conv when the width changes.
 */
import { add, Conv2d, GroupNorm, Module, silu, type Generator, type Tensor } from "@tessera/tensor";
import { fail } from "../errors";
import { initGenerator } from "./init";

export interface ConvResBlockOptions {
  /** GroupNorm groups; must divide both widths. Default 8. */
  groups?: number;
  seed?: number | Generator;
  backend?: string;
}

export class ConvResBlock extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly skip: Conv2d | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    opts: ConvResBlockOptions = {},
  ) {
    super();
    const groups = opts.groups ?? 8;
    for (const [name, c] of [
      ["inChannels", inChannels],
      ["outChannels", outChannels],
    ] as const) {
      if (!Number.isInteger(c) || c < 1 || c % groups !== 0) fail("ConvResBlock", `${name} ${c} must be a positive multiple of groups ${groups}`);
    }
    const o = { seed: initGenerator(opts.seed), backend: opts.backend }; // one stream: the convolutions differ
    this.norm1 = this.registerModule("norm1", new GroupNorm(groups, inChannels, { backend: opts.backend }));
    this.conv1 = this.registerModule("conv1", new Conv2d(inChannels, outChannels, 3, { padding: 1, ...o }));
    this.norm2 = this.registerModule("norm2", new GroupNorm(groups, outChannels, { backend: opts.backend }));
    this.conv2 = this.registerModule("conv2", new Conv2d(outChannels, outChannels, 3, { padding: 1, ...o }));
    this.skip = inChannels === outChannels ? null : this.registerModule("skip", new Conv2d(inChannels, outChannels, 1, o));
  }

  /** x [B, in, H, W] -> [B, out, H, W] */
  forward(x: Tensor): Tensor {
    const h = this.conv1.forward(silu(this.norm1.forward(x)));
    const h2 = this.conv2.forward(silu(this.norm2.forward(h)));
    return add(this.skip ? this.skip.forward(x) : x, h2);
  }
}

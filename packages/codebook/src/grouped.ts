/**
 * Grouped (product) VQ: the feature dimension is split into `groups` slices, each quantized by
 * its own codebook (vector-quantize-pytorch's heads with separate codebooks; product quantization
 * of activations): K^groups combinations from groups codebooks of K codes.
 */
import { add, concat, Module, ModuleList, narrow, stack, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { VectorQuantizer, type VectorQuantizerOptions } from "./vq";

export interface GroupedVQOptions extends Omit<VectorQuantizerOptions, "dim"> {
  dim: number;
  groups: number;
}

export class GroupedVQ extends Module {
  readonly quantizers: ModuleList<VectorQuantizer>;
  readonly sliceDim: number;
  constructor(readonly opts: GroupedVQOptions) {
    super();
    if (!Number.isInteger(opts.groups) || opts.groups < 1 || opts.dim % opts.groups) fail("GroupedVQ", `groups ${opts.groups} must divide dim ${opts.dim}`);
    this.sliceDim = opts.dim / opts.groups;
    this.quantizers = this.registerModule(
      "quantizers",
      new ModuleList(Array.from({ length: opts.groups }, (_, g) => new VectorQuantizer({ ...opts, dim: this.sliceDim, seed: (opts.seed ?? 1) + 31 * g }))),
    );
  }

  /** x [..., dim] -> quantized [..., dim], indices [..., groups], summed loss. */
  forward(x: Tensor): { quantized: Tensor; indices: Tensor; loss: Tensor } {
    if (x.shape[x.rank - 1] !== this.opts.dim) fail("GroupedVQ", `input [${x.shape}] must end in dim = ${this.opts.dim}`);
    const outs = [...this.quantizers].map((q, g) => q.forward(narrow(x, -1, g * this.sliceDim, this.sliceDim)));
    return {
      quantized: concat(
        outs.map((o) => o.quantized),
        -1,
      ),
      indices: stack(
        outs.map((o) => o.indices),
        -1,
      ),
      loss: outs.map((o) => o.loss).reduce((a, b) => add(a, b)),
    };
  }
}

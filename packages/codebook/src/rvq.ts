/**
 * Residual VQ (Zeghidour et al. 2021, SoundStream, Algorithm 1; vector-quantize-pytorch's
 * ResidualVQ): stage l quantizes what the stages before it left, r_l = r_{l-1} - sg(q_l), and
 * the output is the sum of the stages' codes. Quantizer dropout (training): a random number of
 * leading stages is used per batch, so any prefix of the stages decodes.
 */
import { HostRandom } from "@tessera/tensor";
import { add, Module, ModuleList, stack, stopGradient, sub, zerosLike, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { VectorQuantizer, type VectorQuantizerOptions } from "./vq";

export interface ResidualVQOptions extends VectorQuantizerOptions {
  stages: number;
  /** One codebook for every stage (vector-quantize-pytorch's shared_codebook; default false). */
  sharedCodebook?: boolean;
  /** Per batch in training, use a random prefix of at least `dropoutMin` stages (default off). */
  quantizerDropout?: boolean;
  dropoutMin?: number;
}

export class ResidualVQ extends Module {
  readonly layers: ModuleList<VectorQuantizer>;
  private readonly rng: HostRandom;
  constructor(readonly opts: ResidualVQOptions) {
    super();
    if (!Number.isInteger(opts.stages) || opts.stages < 1) fail("ResidualVQ", `stages must be a positive integer, got ${opts.stages}`);
    const shared = opts.sharedCodebook ? new VectorQuantizer({ ...opts }) : null;
    this.layers = this.registerModule(
      "layers",
      new ModuleList(Array.from({ length: opts.stages }, (_, l) => shared ?? new VectorQuantizer({ ...opts, seed: (opts.seed ?? 1) + 101 * l }))),
    );
    this.rng = new HostRandom((opts.seed ?? 1) + 7);
  }

  /** x [..., dim] -> quantized sum, indices [..., stages] (-1 for dropped stages), summed loss. */
  forward(x: Tensor, opts: { stages?: number } = {}): { quantized: Tensor; indices: Tensor; loss: Tensor; perStage: Tensor[] } {
    let use = opts.stages ?? this.opts.stages;
    if (this.training && this.opts.quantizerDropout) {
      const lo = this.opts.dropoutMin ?? 1;
      use = lo + Math.floor(this.rng.uniform() * (this.opts.stages - lo + 1));
    }
    let residual = x;
    let out = zerosLike(x);
    let loss: Tensor | null = null;
    const indices: Tensor[] = [];
    const perStage: Tensor[] = [];
    for (let l = 0; l < use; l++) {
      const r = this.layers.at(l).forward(residual);
      out = add(out, r.quantized);
      residual = sub(residual, stopGradient(r.quantized));
      loss = loss ? add(loss, r.loss) : r.loss;
      indices.push(r.indices);
      perStage.push(out);
    }
    return { quantized: out, indices: stack(indices, -1), loss: loss!, perStage };
  }
}

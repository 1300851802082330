/**
 * Finite scalar quantization (Mentzer et al. 2023, arXiv 2309.15505, Appendix A.1; as
 * vector-quantize-pytorch's FSQ): each of D dimensions is bounded and rounded to L_d levels, so
 * the codebook is implicit (prod L_d codes), always fully usable, with no codebook loss.
 *   half = (L - 1)(1 + 1e-3) / 2;  offset = 0.5 for even L;  shift = atanh(offset / half)
 *   bound(z) = tanh(z + shift) half - offset
 *   z^ = round_ste(bound(z)) / floor(L / 2)          (round_ste(v) = v + sg(round(v) - v))
 *   index = sum_d (z^_d floor(L_d/2) + floor(L_d/2)) basis_d,  basis = cumprod([1, L_0, ...])
 */
import { add, cast, div, floor, mul, reshape, round, stopGradient, sub, sum, tanh, tensor, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";

export class FSQ {
  readonly levels: number[];
  readonly codebookSize: number;
  private readonly half: number[];
  private readonly offset: number[];
  private readonly shift: number[];
  private readonly basis: number[];
  constructor(levels: readonly number[]) {
    if (!levels.length || levels.some((l) => !Number.isInteger(l) || l < 2)) fail("FSQ", `levels must be integers >= 2, got [${levels}]`);
    this.levels = [...levels];
    this.half = levels.map((L) => ((L - 1) * (1 + 1e-3)) / 2);
    this.offset = levels.map((L) => (L % 2 === 0 ? 0.5 : 0));
    this.shift = levels.map((_, i) => Math.atanh(this.offset[i] / this.half[i]));
    this.basis = levels.map((_, i) => levels.slice(0, i).reduce((a, b) => a * b, 1));
    this.codebookSize = levels.reduce((a, b) => a * b, 1);
  }

  private vec(v: number[], backend: string): Tensor {
    return tensor(v, { backend });
  }

  /** z [..., D] -> { quantized [..., D] in [-1, 1], indices int32 [...] } */
  forward(z: Tensor): { quantized: Tensor; indices: Tensor } {
    const D = this.levels.length;
    if (z.shape[z.rank - 1] !== D) fail("FSQ", `input [${z.shape}] must end in ${D} = number of levels`);
    const b = z.backend;
    const bounded = sub(mul(tanh(add(z, this.vec(this.shift, b))), this.vec(this.half, b)), this.vec(this.offset, b));
    const rounded = add(bounded, stopGradient(sub(round(bounded), bounded)));
    const halfWidth = this.vec(
      this.levels.map((L) => Math.floor(L / 2)),
      b,
    );
    const quantized = div(rounded, halfWidth);
    return { quantized, indices: this.codesToIndices(quantized) };
  }

  codesToIndices(codes: Tensor): Tensor {
    const b = codes.backend;
    const halfWidth = this.vec(
      this.levels.map((L) => Math.floor(L / 2)),
      b,
    );
    const digits = round(add(mul(stopGradient(codes), halfWidth), halfWidth));
    return cast(sum(mul(digits, this.vec(this.basis, b)), -1), "int32");
  }

  /** indices int32 [...] -> codes [..., D] */
  indicesToCodes(indices: Tensor): Tensor {
    const b = indices.backend;
    const idx = reshape(cast(indices, "float32"), [...indices.shape, 1]);
    const digits = sub(
      floor(div(idx, this.vec(this.basis, b))),
      mul(
        floor(
          div(
            idx,
            this.vec(
              this.basis.map((v, i) => v * this.levels[i]),
              b,
            ),
          ),
        ),
        this.vec(this.levels, b),
      ),
    );
    const halfWidth = this.vec(
      this.levels.map((L) => Math.floor(L / 2)),
      b,
    );

    return div(sub(digits, halfWidth), halfWidth);
  }
}

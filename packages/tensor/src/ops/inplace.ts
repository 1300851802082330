/**
 * In-place writes, for optimizers and caches. Not differentiable.
 */
import { fail, fmtShape } from "../core/errors";
import { shapesEqual } from "../core/shape";
import { needsRecord } from "../core/tape";
import type { Tensor } from "../core/tensor";
import { asTensor, backendOf, broadcastView, type TensorLike } from "./util";

/**
 * Writes `value` (broadcast to target's shape, converted to its dtype) into `target`'s
 * memory. Every view sharing that memory sees the change, as with PyTorch's `copy_`.
 */
export function assign(target: Tensor, value: TensorLike): Tensor {
  const v = asTensor("assign", "value", value, target);
  const be = backendOf("assign", target, v);
  if (needsRecord([target, v])) fail("assign", "cannot write in place into a tensor a gradient is being taken through");
  if (
    v.rank > target.rank ||
    !shapesEqual(
      target.shape.slice(target.rank - v.rank).map((d, i) => (v.shape[i] === 1 ? 1 : d)),
      v.shape,
    )
  ) {
    fail("assign", `value ${fmtShape(v.shape)} does not broadcast to target ${fmtShape(target.shape)}`);
  }
  be.write(target.view(), broadcastView(v, target.shape));
  return target;
}

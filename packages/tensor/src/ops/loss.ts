/**
 * Losses.
 */
import { isFloat } from "../core/dtype";
import { tidy } from "../core/engine";
import { fail, fmtShape } from "../core/errors";
import type { Tensor } from "../core/tensor";
import { cast } from "./convert";
import { eq, logicalNot, mul, neg, square, sub, where, div, add } from "./elementwise";
import { gather } from "./indexing";
import { mean, sum } from "./reduce";
import { logSoftmax } from "./normalization";
import { asTensor, type TensorLike } from "./util";
import { squeeze, unsqueeze } from "./view";

export interface CrossEntropyOptions {
  reduction?: "mean" | "sum" | "none";
  /** Targets equal to this contribute nothing (and are left out of the mean). Default -100. */
  ignoreIndex?: number;
  /** Mixes the one-hot target with the uniform distribution (torch's label_smoothing). */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits [..., C] and integer class targets [...] (or probabilities
 * [..., C]), as torch.nn.functional.cross_entropy with the class axis last.
 */
export function crossEntropy(logits: TensorLike, targets: TensorLike, opts: CrossEntropyOptions = {}): Tensor {
  const z = asTensor("crossEntropy", "logits", logits);
  const y = asTensor("crossEntropy", "targets", targets, undefined, Array.isArray(targets) ? "int32" : undefined);
  const reduction = opts.reduction ?? "mean";
  const eps = opts.labelSmoothing ?? 0;
  const ignore = opts.ignoreIndex ?? -100;
  if (!isFloat(z.dtype)) fail("crossEntropy", `logits must be float, got ${z.dtype} ${fmtShape(z.shape)}`);
  if (eps < 0 || eps > 1) fail("crossEntropy", `labelSmoothing must lie in [0, 1], got ${eps}`);
  const C = z.shape[z.rank - 1];
  return tidy(() => {
    const lsm = logSoftmax(z, -1); // [..., C]
    if (isFloat(y.dtype)) {
      if (y.rank !== z.rank || y.shape.some((d, i) => d !== z.shape[i])) fail("crossEntropy", `probability targets ${fmtShape(y.shape)} must match logits ${fmtShape(z.shape)}`);
      const target = eps > 0 ? add(mul(y, 1 - eps), eps / C) : y;
      const per = neg(sum(mul(target, lsm), -1));
      return reduction === "none" ? per : reduction === "sum" ? sum(per) : mean(per);
    }
    if (y.rank !== z.rank - 1 || y.shape.some((d, i) => d !== z.shape[i])) {
      fail("crossEntropy", `class targets ${fmtShape(y.shape)} must match logits ${fmtShape(z.shape)} without the class axis`);
    }
    if (y.storage.backend.canReadSync) {
      // As torch: a target outside [0, C) that is not ignoreIndex is an error, not a loss.
      const v = y.dataSync();
      for (let k = 0; k < v.length; k++) {
        if (v[k] !== ignore && !(v[k] >= 0 && v[k] < C))
          fail("crossEntropy", `targets ${fmtShape(y.shape)} holds ${v[k]} at flat position ${k}: class targets must lie in [0, ${C}) or equal ignoreIndex ${ignore}`);
      }
    }
    const valid = logicalNot(eq(y, ignore));
    const safe = where(valid, y, 0);
    const nll = neg(squeeze(gather(lsm, -1, unsqueeze(cast(safe, "int32"), -1)), -1)); // [...]
    const smooth = eps > 0 ? add(mul(nll, 1 - eps), mul(neg(mean(lsm, -1)), eps)) : nll;
    const w = cast(valid, z.dtype);
    const per = mul(smooth, w);
    if (reduction === "none") return per;
    if (reduction === "sum") return sum(per);
    return div(sum(per), sum(w));
  });
}

/** Mean squared error (or sum / none). */
export function mseLoss(a: TensorLike, b: TensorLike, reduction: "mean" | "sum" | "none" = "mean"): Tensor {
  return tidy(() => {
    const d = square(sub(a, b));
    return reduction === "none" ? d : reduction === "sum" ? sum(d) : mean(d);
  });
}

/**
 * Masked-modeling objectives as tensor ops (any backend, differentiable): MLM cross-entropy,
 * MAE's masked patch MSE, BEiT's masked token cross-entropy and ELECTRA's replaced-token
 * detection.
 */
import {
  add,
  argmax,
  cast,
  crossEntropy,
  div,
  isTensor,
  logicalAnd,
  logSigmoid,
  mean,
  mul,
  ne,
  neg,
  sqrt,
  square,
  squeeze,
  stopGradient,
  sub,
  sum,
  tensor,
  tidy,
  variance,
  where,
  type Tensor,
  type TensorLike,
} from "@tessera/tensor";
import { fail } from "./errors";
import { rngFor, type Seed } from "./random";
import { IGNORE_INDEX } from "./text";

function asT(op: string, arg: string, x: TensorLike | undefined, dtype?: "int32" | "float32"): Tensor {
  if (x === undefined || x === null) fail(op, `${arg} is required`);
  if (isTensor(x)) return x;
  if (!Array.isArray(x)) fail(op, `${arg} must be a tensor or a nested array`);
  return tensor(x, { dtype });
}

function same(op: string, a: string, x: Tensor, b: string, y: Tensor, dims: number): void {
  for (let i = 0; i < dims; i++) {
    if (x.shape[i] !== y.shape[i]) fail(op, `${a} [${x.shape.join(",")}] and ${b} [${y.shape.join(",")}] disagree on axis ${i}`);
  }
}

/**
 * Masked-language-model loss: cross-entropy of logits [..., V] against labels [...], positions
 * with label -100 ignored, mean over the rest (torch's CrossEntropyLoss; NaN when every label
 * is -100, as torch).
 */
export function mlmLoss(logits: Tensor, labels: TensorLike): Tensor {
  const op = "mlmLoss";
  const z = asT(op, "logits", logits);
  const y = asT(op, "labels", labels, "int32");
  if (y.rank !== z.rank - 1) fail(op, `labels [${y.shape.join(",")}] must be logits [${z.shape.join(",")}] without the vocabulary axis`);
  same(op, "logits", z, "labels", y, y.rank);
  const out = crossEntropy(z, y, { ignoreIndex: IGNORE_INDEX });
  if (y !== labels) y.dispose();
  return out;
}

export interface MaskedPatchLossOptions {
  /** Normalise each target patch by its mean and (unbiased) variance: (t - mean) / sqrt(var + 1e-6). Default false. */
  normPix?: boolean;
}

/**
 * MAE's loss (He et al. 2022, models_mae.py `forward_loss`): per-patch mean squared error over
 * the patch's D values, then the mean over masked patches only: sum(loss * mask) / sum(mask).
 * pred and target are [B, N, D]; mask is [B, N] with 1 = masked. With normPix the target patch
 * is normalised by its mean and unbiased variance (torch's var) with eps 1e-6, as norm_pix_loss.
 */
export function maskedPatchLoss(pred: Tensor, target: TensorLike, mask: TensorLike, opts: MaskedPatchLossOptions = {}): Tensor {
  const op = "maskedPatchLoss";
  const p = asT(op, "pred", pred);
  const t = asT(op, "target", target, "float32");
  const m = asT(op, "mask", mask, "float32");
  if (p.rank !== 3) fail(op, `pred must be [B, N, D], got [${p.shape.join(",")}]`);
  if (t.rank !== 3) fail(op, `target must be [B, N, D], got [${t.shape.join(",")}]`);
  same(op, "pred", p, "target", t, 3);
  if (m.rank !== 2) fail(op, `mask must be [B, N], got [${m.shape.join(",")}]`);
  same(op, "pred", p, "mask", m, 2);
  const out = tidy(() => {
    let tgt = t;
    if (opts.normPix) {
      const mu = mean(t, -1, { keepdims: true });
      const v = variance(t, -1, { keepdims: true, correction: 1 });
      tgt = div(sub(t, mu), sqrt(add(v, 1e-6)));
    }
    const perPatch = mean(square(sub(p, tgt)), -1);
    const w = cast(m, perPatch.dtype);
    return div(sum(mul(perPatch, w)), sum(w));
  });
  if (t !== target) t.dispose();
  if (m !== mask) m.dispose();
  return out;
}

/**
 * BEiT's masked image modeling loss (Bao et al. 2022): cross-entropy of logits [B, N, V] against
 * the visual tokenizer's codes [B, N] at masked positions only (mask [B, N], nonzero = masked),
 * mean over those positions.
 */
export function maskedTokenLoss(logits: Tensor, codes: TensorLike, mask: TensorLike): Tensor {
  const op = "maskedTokenLoss";
  const z = asT(op, "logits", logits);
  const c = asT(op, "codes", codes, "int32");
  const m = asT(op, "mask", mask, "float32");
  if (c.rank !== z.rank - 1) fail(op, `codes [${c.shape.join(",")}] must be logits [${z.shape.join(",")}] without the vocabulary axis`);
  same(op, "logits", z, "codes", c, c.rank);
  if (m.rank !== c.rank) fail(op, `mask [${m.shape.join(",")}] must have the shape of codes [${c.shape.join(",")}]`);
  same(op, "codes", c, "mask", m, c.rank);
  const out = tidy(() => crossEntropy(z, where(ne(m, 0), cast(c, "int32"), IGNORE_INDEX), { ignoreIndex: IGNORE_INDEX }));
  if (c !== codes) c.dispose();
  if (m !== mask) m.dispose();
  return out;
}

export interface ElectraCorruptOptions {
  seed?: Seed;
  /** Sampling temperature of the generator softmax. Default 1 (ELECTRA). */
  temperature?: number;
}

export interface ElectraCorruption {
  /** [B, T] int32: the originals with every selected position replaced by a generator sample. */
  corruptedIds: Tensor;
  /** [B, T] float32: 1 where the corrupted token differs from the original (a sample equal to the original counts as original). */
  isReplaced: Tensor;
}

/**
 * ELECTRA's fake input (Clark et al. 2020, run_pretraining.py `_get_fake_data`): at the selected
 * positions (labels != -100) sample a token from the generator's softmax (Gumbel-max on
 * stop-gradient logits: no gradient flows through the sampling) and put it in place of the
 * original; the originals are where(labels == -100, inputIds, labels), so inputIds may be the
 * generator's masked input (bertMask's inputIds) or the clean ids.
 */
export function electraCorrupt(generatorLogits: Tensor, inputIds: TensorLike, labels: TensorLike, opts: ElectraCorruptOptions = {}): ElectraCorruption {
  const op = "electraCorrupt";
  const z = asT(op, "generatorLogits", generatorLogits);
  const x = asT(op, "inputIds", inputIds, "int32");
  const y = asT(op, "labels", labels, "int32");
  if (z.rank !== 3) fail(op, `generatorLogits must be [B, T, V], got [${z.shape.join(",")}]`);
  same(op, "generatorLogits", z, "inputIds", x, 2);
  same(op, "inputIds", x, "labels", y, 2);
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) fail(op, `temperature must be positive, got ${temperature}`);
  const rng = rngFor(op, opts.seed);
  const n = z.shape[0] * z.shape[1] * z.shape[2];
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = rng.gumbel();
  const out = tidy(() => {
    const noise = tensor(g, { shape: [...z.shape], backend: z.backend });
    const sampled = cast(argmax(add(div(stopGradient(z), temperature), noise), -1), "int32");
    const selected = ne(y, IGNORE_INDEX);
    const original = cast(where(selected, y, x), "int32");
    const corruptedIds = cast(where(selected, sampled, original), "int32");
    const isReplaced = cast(logicalAnd(selected, ne(corruptedIds, original)), "float32");
    return { corruptedIds, isReplaced };
  });
  if (x !== inputIds) x.dispose();
  if (y !== labels) y.dispose();
  return out;
}

export interface ReplacedTokenLossOptions {
  /** Generator logits [B, T, V] on the masked input. */
  generatorLogits: Tensor;
  /** [B, T]: bertMask's labels (original id at selected positions, -100 elsewhere). */
  labels: TensorLike;
  /** [B, T]: the generator's (masked) input or the clean ids (see electraCorrupt). */
  inputIds: TensorLike;
  /**
   * The discriminator: a function from corrupted ids [B, T] to logits [B, T] (or [B, T, 1]),
   * called once with electraCorrupt's ids; or its logits, computed by the caller on
   * `corrupted.corruptedIds` from electraCorrupt, with `corrupted` given too.
   */
  discriminator: ((corruptedIds: Tensor) => Tensor) | Tensor;
  /** electraCorrupt's result, required when `discriminator` is a tensor of logits. */
  corrupted?: ElectraCorruption;
  /** [B, T], 1 = real token: the detection loss covers these positions only. Default: all. */
  attentionMask?: TensorLike;
  /** Weight of the detection loss. Default 50 (ELECTRA's disc_weight). */
  lambda?: number;
  /** Weight of the generator's MLM loss. Default 1. */
  generatorWeight?: number;
  seed?: Seed;
  temperature?: number;
}

export interface ReplacedTokenLoss {
  /** generatorWeight * generatorLoss + lambda * discriminatorLoss. */
  loss: Tensor;
  generatorLoss: Tensor;
  discriminatorLoss: Tensor;
  corruptedIds: Tensor;
  isReplaced: Tensor;
}

/**
 * ELECTRA's objective (Clark et al. 2020): the generator's MLM loss (mlmLoss) plus lambda (50)
 * times the binary cross-entropy of replaced-token detection, averaged over non-padding
 * positions: sum(bce * w) / (sum(w) + 1e-6), as ELECTRA. Gradients reach the generator through
 * its MLM loss and the discriminator through the detection loss; none flows through sampling.
 */
export function replacedTokenLoss(o: ReplacedTokenLossOptions): ReplacedTokenLoss {
  const op = "replacedTokenLoss";
  if (!o || typeof o !== "object") fail(op, "options { generatorLogits, labels, inputIds, discriminator } are required");
  const lambda = o.lambda ?? 50;
  const gw = o.generatorWeight ?? 1;
  if (!(lambda >= 0) || !(gw >= 0)) fail(op, `lambda and generatorWeight must be non-negative, got ${lambda} and ${gw}`);
  let corrupted: ElectraCorruption;
  let dLogits: Tensor;
  let ownCorruption = false;
  if (typeof o.discriminator === "function") {
    corrupted = electraCorrupt(o.generatorLogits, o.inputIds, o.labels, { seed: o.seed, temperature: o.temperature });
    ownCorruption = true;
    dLogits = o.discriminator(corrupted.corruptedIds);
    if (!isTensor(dLogits)) fail(op, "discriminator must return a tensor of logits [B, T]");
  } else if (isTensor(o.discriminator)) {
    if (!o.corrupted) fail(op, "with discriminator logits, pass corrupted (electraCorrupt's result on the ids the discriminator saw)");
    corrupted = o.corrupted;
    dLogits = o.discriminator;
  } else fail(op, "discriminator must be a function (corruptedIds) => logits or a tensor of logits");
  const B = corrupted.isReplaced.shape[0];
  const T = corrupted.isReplaced.shape[1];
  const d2 = dLogits.rank === 3 && dLogits.shape[2] === 1 ? squeeze(dLogits, -1) : dLogits;
  if (d2.rank !== 2 || d2.shape[0] !== B || d2.shape[1] !== T) fail(op, `discriminator logits must be [${B}, ${T}] (or [${B}, ${T}, 1]), got [${dLogits.shape.join(",")}]`);
  const att = o.attentionMask === undefined ? null : asT(op, "attentionMask", o.attentionMask, "float32");
  if (att && (att.rank !== 2 || att.shape[0] !== B || att.shape[1] !== T)) fail(op, `attentionMask must be [${B}, ${T}], got [${att.shape.join(",")}]`);
  const result = tidy(() => {
    const generatorLoss = mlmLoss(o.generatorLogits, o.labels);
    const yv = corrupted.isReplaced;
    // -(y log sigmoid(x) + (1 - y) log sigmoid(-x)), stable for large |x|.
    const bce = neg(add(mul(yv, logSigmoid(d2)), mul(sub(1, yv), logSigmoid(neg(d2)))));
    const discriminatorLoss = att ? div(sum(mul(bce, cast(att, bce.dtype))), add(sum(cast(att, bce.dtype)), 1e-6)) : div(sum(bce), B * T + 1e-6);
    const loss = add(mul(generatorLoss, gw), mul(discriminatorLoss, lambda));
    return { loss, generatorLoss, discriminatorLoss };
  });
  if (d2 !== dLogits) d2.dispose();
  if (ownCorruption && dLogits !== o.discriminator) dLogits.dispose();
  if (att && att !== o.attentionMask) att.dispose();
  return { ...result, corruptedIds: corrupted.corruptedIds, isReplaced: corrupted.isReplaced };
}

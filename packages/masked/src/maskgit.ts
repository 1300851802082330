/**
 * MaskGIT iterative parallel decoding (Chang et al. 2022; google-research/maskgit
 * libml/parallel_decode.py `decode` and `mask_by_random_topk`).
 */
import {
  add,
  argmax,
  argsort,
  cast,
  clone,
  concat,
  full,
  gather,
  logicalNot,
  logSoftmax,
  lt,
  mul,
  narrow,
  squeeze,
  tensor,
  tidy,
  unsqueeze,
  where,
  type Tensor,
} from "@tessera/tensor";
import { fail } from "./errors";
import { rngFor, type Seed } from "./random";
import { maskgitSchedule, MASKGIT_SCHEDULES, type MaskgitScheduleKind } from "./schedule";
import { checkInt } from "./util";

/** Predicts logits [B, T', V] for ids [B, T'] (T' = length, or 1 + length with a class token). */
export type MaskgitModel = (ids: Tensor, info: { step: number }) => Tensor | Promise<Tensor>;

export interface MaskgitDecodeOptions {
  /** Tokens to generate per row. */
  length: number;
  /** Id of the mask token fed to the model for positions still unknown. */
  maskTokenId: number;
  /** Forward passes (iterations). Default 8. */
  steps?: number;
  /** A schedule kind (default "cosine") or your own gamma(r). */
  schedule?: MaskgitScheduleKind | ((r: number) => number);
  /** Choice temperature of the Gumbel noise on confidences, annealed by (1 - (t + 1) / steps). Default 1 (MaskGIT's ImageNet config: 4.5). */
  temperature?: number;
  seed?: Seed;
  /** Rows to decode. Default 1, or the length of classLabel when it is an array. */
  batch?: number;
  /** Class-conditional generation: a class token (classLabel + classTokenOffset) is prepended to every row, as MaskGIT. */
  classLabel?: number | readonly number[];
  /** Added to classLabel to make the class token id (MaskGIT: the codebook size). Default 0. */
  classTokenOffset?: number;
  /** Sample from the first vocabSize logits only (MaskGIT: logits[..., :codebook_size]). Default: all. */
  vocabSize?: number;
  /** Keep the tokens after every step (mask token where still unknown). Default false. */
  returnHistory?: boolean;
  /** Backend of the ids fed to the model (default: the current backend). */
  backend?: string;
}

export interface MaskgitDecodeResult {
  /** [B, length] int32, every token decoded. */
  tokens: Tensor;
  /** With returnHistory: [B, length] int32 after each step (maskTokenId where still masked). */
  history?: Tensor[];
  /** Tokens still masked after each step: max(1, min(unknown - 1, floor(gamma((t + 1) / steps) * length))), and 0 after the last. */
  maskedPerStep: number[];
}

/**
 * MaskGIT decoding: start with every position masked; at step t (of `steps`, one forward pass
 * each) sample every position from the model's softmax (the mask token excluded; already
 * decoded tokens kept), score each newly sampled token by its log-probability plus Gumbel noise
 * times temperature * (1 - (t + 1) / steps), and re-mask the n lowest-scoring of them, with
 * n = max(1, min(unknown - 1, floor(length * clip(gamma((t + 1) / steps), 1e-6, 1)))) — at least
 * one token decoded and one left masked per step, as the reference. After the last step every
 * token is decoded (the reference returns the sampled ids of its last iteration). Decoded tokens
 * never change. The logits the model returns are disposed.
 */
export async function maskgitDecode(model: MaskgitModel, opts: MaskgitDecodeOptions): Promise<MaskgitDecodeResult> {
  const op = "maskgitDecode";
  if (typeof model !== "function") fail(op, "model must be a function (ids [B, T]) => logits [B, T, V]");
  if (!opts || typeof opts !== "object") fail(op, "options { length, maskTokenId } are required");
  const N = checkInt(op, "length", opts.length, 1);
  const steps = checkInt(op, "steps", opts.steps ?? 8, 1);
  const maskId = checkInt(op, "maskTokenId", opts.maskTokenId, 0);
  const temperature = opts.temperature ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) fail(op, `temperature must be a non-negative number, got ${temperature}`);
  const sched = opts.schedule ?? "cosine";
  let gamma: (r: number) => number;
  if (typeof sched === "function") gamma = sched;
  else {
    if (!MASKGIT_SCHEDULES.includes(sched)) fail(op, `schedule must be one of ${MASKGIT_SCHEDULES.join(", ")} or a function, got ${String(sched)}`);
    gamma = maskgitSchedule(sched, { totalTokens: Math.max(N, 2) });
  }
  const labels = opts.classLabel === undefined ? null : Array.isArray(opts.classLabel) ? opts.classLabel : null;
  const B = checkInt(op, "batch", opts.batch ?? labels?.length ?? 1, 1);
  let classTokens: number[] | null = null;
  if (opts.classLabel !== undefined) {
    const off = opts.classTokenOffset ?? 0;
    const ls = labels ?? new Array<number>(B).fill(opts.classLabel as number);
    if (ls.length !== B) fail(op, `classLabel has ${ls.length} entries but batch is ${B}`);
    classTokens = ls.map((l, i) => checkInt(op, `classLabel[${i}] + classTokenOffset`, l + off, 0));
  }
  const vocabLimit = opts.vocabSize === undefined ? undefined : checkInt(op, "vocabSize", opts.vocabSize, 1);
  const rng = rngFor(op, opts.seed);
  const backend = opts.backend;

  // Host-side schedule: the same for every row, since every row starts fully masked.
  const maskedPerStep: number[] = [];
  let unknown = N;
  for (let t = 0; t < steps; t++) {
    const ratio = (t + 1) / steps;
    const g = Math.min(1, Math.max(1e-6, gamma(ratio)));
    if (!Number.isFinite(g)) fail(op, `schedule returned ${gamma(ratio)} at r = ${ratio}`);
    const n = t === steps - 1 ? 0 : Math.max(1, Math.min(unknown - 1, Math.floor(N * g)));
    maskedPerStep.push(n);
    unknown = n;
  }

  let cur = full([B, N], maskId, { dtype: "int32", backend });
  let known = full([B, N], 0, { dtype: "bool", backend });
  const classCol = classTokens ? tensor(Int32Array.from(classTokens), { shape: [B, 1], dtype: "int32", backend }) : null;
  const history: Tensor[] = [];
  try {
    for (let t = 0; t < steps; t++) {
      const input = classCol ? concat([classCol, cur], 1) : cur;
      let logits: Tensor;
      try {
        logits = await model(input, { step: t });
      } finally {
        if (input !== cur) input.dispose();
      }
      if (!logits || typeof logits !== "object" || !("shape" in logits)) fail(op, "model must return a tensor of logits [B, T, V]");
      const T = N + (classCol ? 1 : 0);
      if (logits.rank !== 3 || logits.shape[0] !== B || logits.shape[1] !== T) {
        const s = logits.shape.join(",");
        logits.dispose();
        fail(op, `model returned logits [${s}], expected [${B}, ${T}, V]`);
      }
      const V = vocabLimit ?? logits.shape[2];
      if (V > logits.shape[2]) fail(op, `vocabSize ${V} exceeds the ${logits.shape[2]} logits the model returned`);
      const sampleNoise = new Float32Array(B * N * V);
      for (let i = 0; i < sampleNoise.length; i++) sampleNoise[i] = rng.gumbel();
      const choiceNoise = new Float32Array(B * N);
      for (let i = 0; i < choiceNoise.length; i++) choiceNoise[i] = rng.gumbel();
      const bias = new Float32Array(V);
      if (maskId < V) bias[maskId] = -Infinity; // never sample the mask token
      const n = maskedPerStep[t];
      const tau = temperature * (1 - (t + 1) / steps);
      const next = tidy(() => {
        let z = classCol ? narrow(logits, 1, 1, N) : logits;
        if (V < logits.shape[2]) z = narrow(z, 2, 0, V);
        const lp = logSoftmax(add(cast(z, "float32"), tensor(bias, { backend: z.backend })), -1);
        const sampledAll = cast(argmax(add(lp, tensor(sampleNoise, { shape: [B, N, V], backend: z.backend })), -1), "int32");
        const sampled = where(known, cur, sampledAll);
        const logp = squeeze(gather(lp, -1, unsqueeze(sampled, -1)), -1);
        const conf = where(known, Infinity, add(logp, mul(tensor(choiceNoise, { shape: [B, N], backend: z.backend }), tau)));
        // Re-mask the n least confident: rank(position) < n (known ones rank last: +inf).
        const rank = argsort(argsort(conf, -1), -1);
        const remask = lt(rank, n);
        return { ids: where(remask, maskId, sampled), known: logicalNot(remask) };
      });
      logits.dispose();
      cur.dispose();
      known.dispose();
      cur = cast(next.ids, "int32");
      if (cur !== next.ids) next.ids.dispose();
      known = next.known;
      if (opts.returnHistory) history.push(clone(cur));
    }
  } finally {
    known.dispose();
    classCol?.dispose();
  }
  return opts.returnHistory ? { tokens: cur, history, maskedPerStep } : { tokens: cur, maskedPerStep };
}

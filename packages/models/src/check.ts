/**
 * Conformance of a loaded model against a Hugging Face reference file (the layout of
 * fixtures/hf/*: `expected.safetensors` with input_ids or pixel_values, logits,
 * hidden_states.{i}, optional generate.prompt / generate.output). Used by `tessera check` and
 * the tests.
 */
import { sub, abs, cast, max, tidy, toBackend, type Tensor } from "@tessera/tensor";
import { mlmLoss } from "@tessera/masked";
import { replacedTokenDetectionLoss } from "./arch/electra";
import { fail } from "./errors";
import { generate } from "./generate/generate";
import type { Pretrained } from "./hf/registry";

export interface CheckReport {
  modelType: string;
  backend: string;
  /** Max |ours - reference| of the logits. */
  logitsMaxAbsError: number;
  /** Max abs error of each hidden state, in Hugging Face's order. */
  hiddenStatesMaxAbsError: number[];
  /** Greedy generation identical to the reference (null when the file has none). */
  generationMatches: boolean | null;
  generated?: number[];
  expectedGeneration?: number[];
  /** Max abs error of other outputs the reference holds (MAE: mask, ids_restore, last_hidden_state). */
  otherMaxAbsError?: Record<string, number>;
  /** |ours - reference| / |reference| of the loss, where the reference has one and the model computes it. */
  lossRelativeError?: number;
  /** Bound on lossRelativeError (1e-5). */
  lossTolerance?: number;
  tolerance: number;
  pass: boolean;
}

async function maxAbsDiff(a: Tensor, b: Tensor): Promise<number> {
  if (a.shape.join() !== b.shape.join()) fail("check", `shape [${a.shape}] differs from the reference [${b.shape}]`);
  const m = tidy(() => max(abs(sub(a, b.backend === a.backend ? b : toBackend(b, a.backend)))));
  const v = await m.item();
  m.dispose();
  return v;
}

/** Runs `p` on the reference inputs and compares. `tolerance` defaults to 1e-4 (float32 logits). */
export async function checkAgainstReference(p: Pretrained, expected: Record<string, Tensor>, opts: { backend?: string; tolerance?: number } = {}): Promise<CheckReport> {
  const backend = opts.backend ?? p.model.parameters()[0].backend;
  const tolerance = opts.tolerance ?? 1e-4;
  const need = (k: string) => expected[k] ?? fail("check", `expected.safetensors lacks '${k}'`);
  const on = (t: Tensor) => (t.backend === backend ? t : toBackend(t, backend));
  const out = tidy((): { logits: Tensor; hiddenStates?: Tensor[]; loss?: Tensor; other?: Record<string, Tensor> } => {
    if (p.task === "image-classification") return p.model.forward(on(need("pixel_values")), { hiddenStates: true });
    const attentionMask = expected.attention_mask ? on(expected.attention_mask) : undefined;
    if (p.task === "masked-lm") {
      const r = p.model.forward(on(need("input_ids")), { hiddenStates: true, attentionMask });
      return p.modelType === "electra" && expected.labels ? { ...r, loss: mlmLoss(r.logits, on(expected.labels)) } : r;
    }
    if (p.task === "replaced-token-detection") {
      const r = p.model.forward(on(need("input_ids")), { hiddenStates: true, attentionMask });
      return expected.labels ? { ...r, loss: replacedTokenDetectionLoss(r.logits, on(expected.labels), attentionMask) } : r;
    }
    if (p.task === "masked-image-modeling") {
      const mask = on(need("bool_masked_pos"));
      return p.model.forward(on(need("pixel_values")), { mask, codes: expected.labels ? on(expected.labels) : undefined, hiddenStates: true });
    }
    if (p.task === "masked-image-pretraining") {
      const r = p.model.forward(on(need("pixel_values")), { noise: on(need("noise")), hiddenStates: true });
      const other: Record<string, Tensor> = { mask: r.mask, ids_restore: r.idsRestore, last_hidden_state: r.latent };
      return { logits: r.pred, hiddenStates: r.hiddenStates, loss: r.loss, other };
    }
    const r = p.model.forward(on(need("input_ids")), { hiddenStates: true });
    return { logits: r.logits, hiddenStates: r.hiddenStates };
  });
  const logitsErr = await maxAbsDiff(out.logits, need("logits"));
  const hidden: number[] = [];
  const ours = out.hiddenStates ?? [];
  for (let i = 0; expected[`hidden_states.${i}`]; i++) {
    if (!ours[i]) fail("check", `the reference has hidden_states.${i} but the model produced ${ours.length} hidden states`);
    hidden.push(await maxAbsDiff(ours[i], expected[`hidden_states.${i}`]));
  }
  const report: Partial<CheckReport> = {};
  const others = Object.entries(out.other ?? {}).filter(([k]) => expected[k]);
  if (others.length) {
    report.otherMaxAbsError = {};
    for (const [k, t] of others) {
      const [a, b] = [cast(t, "float32"), cast(expected[k], "float32")]; // new handles (views when already float32)
      report.otherMaxAbsError[k] = await maxAbsDiff(a, b);
      a.dispose();
      b.dispose();
    }
  }
  if (out.loss && expected.loss) {
    const [ours, ref] = [await out.loss.item(), await expected.loss.item()];
    report.lossRelativeError = Math.abs(ours - ref) / Math.abs(ref);
    report.lossTolerance = 1e-5;
  }
  for (const t of [out.logits, ...ours, ...(out.loss ? [out.loss] : []), ...Object.values(out.other ?? {})]) t.dispose();
  let generationMatches: boolean | null = null;
  if (expected["generate.prompt"] && p.task === "causal-lm") {
    const prompt = expected["generate.prompt"];
    const want = Array.from(await need("generate.output").data());
    const got = await generate(p.model, prompt, { maxNewTokens: want.length - prompt.shape[1] });
    report.generated = got.sequences[0];
    report.expectedGeneration = want;
    generationMatches = want.length === got.sequences[0].length && want.every((t, i) => t === got.sequences[0][i]);
  }
  const pass =
    logitsErr <= tolerance &&
    hidden.every((e) => e <= tolerance) &&
    Object.values(report.otherMaxAbsError ?? {}).every((e) => e <= tolerance) &&
    (report.lossRelativeError === undefined || report.lossRelativeError <= (report.lossTolerance ?? 0)) &&
    generationMatches !== false;
  return { modelType: p.modelType, backend, logitsMaxAbsError: logitsErr, hiddenStatesMaxAbsError: hidden, generationMatches, ...report, tolerance, pass };
}

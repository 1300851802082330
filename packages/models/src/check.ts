/**
 * Conformance of a loaded model against a Hugging Face reference file (the layout of
 * fixtures/hf/*: `expected.safetensors` with input_ids or pixel_values, logits,
 * hidden_states.{i}, optional generate.prompt / generate.output). Used by `tessera check` and
 * the tests.
 */
import { sub, abs, max, tidy, toBackend, type Tensor } from "@tessera/tensor";
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
  const out = tidy(() => {
    if (p.task === "image-classification") return p.model.forward(on(need("pixel_values")), { hiddenStates: true });
    if (p.task === "masked-lm") return p.model.forward(on(need("input_ids")), { hiddenStates: true });
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
  for (const t of [out.logits, ...ours]) t.dispose();
  let generationMatches: boolean | null = null;
  const report: Partial<CheckReport> = {};
  if (expected["generate.prompt"] && p.task === "causal-lm") {
    const prompt = expected["generate.prompt"];
    const want = Array.from(await need("generate.output").data());
    const got = await generate(p.model, prompt, { maxNewTokens: want.length - prompt.shape[1] });
    report.generated = got.sequences[0];
    report.expectedGeneration = want;
    generationMatches = want.length === got.sequences[0].length && want.every((t, i) => t === got.sequences[0][i]);
  }
  const pass = logitsErr <= tolerance && hidden.every((e) => e <= tolerance) && generationMatches !== false;
  return { modelType: p.modelType, backend, logitsMaxAbsError: logitsErr, hiddenStatesMaxAbsError: hidden, generationMatches, ...report, tolerance, pass };
}

/**
 * Autoregressive generation for a CausalLM: one prefill pass over the prompt, then one token
 * per step, carrying the model state (a KV cache for attention layers, O(1)-size recurrent state
 * for Mamba / Mamba-2), so each new token costs one step, not a pass over the whole sequence.
 * Stops at maxNewTokens, at EOS (per sequence; finished rows are padded with the pad token),
 * or when the streaming callback returns false. Tensors of every step are freed as it ends.
 */
import { HostRandom } from "@tessera/tensor";
import { dispose, isTensor, keep, tensor, tidy, type Tensor } from "@tessera/tensor";
import type { CausalLM, LMState } from "../arch/causal-lm";
import { fail } from "../errors";
import { checkSampling, sampleToken, type SamplingOptions } from "./sampling";

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop a sequence when it emits one of these (default: none). */
  eosTokenId?: number | readonly number[] | null;
  /** Written after a sequence ended (default: the first EOS id, or 0). */
  padTokenId?: number;
  /** Called with each new token of each sequence; return false to stop everything. */
  onToken?: (token: number, step: number, sequence: number) => boolean | void;
}

export interface GenerateResult {
  /** Prompt and generated tokens per sequence. */
  sequences: number[][];
  /** Only the generated tokens per sequence. */
  generated: number[][];
  /** Why generation ended. */
  stopped: "length" | "eos" | "callback";
}

function stateTensors(s: LMState): Set<Tensor> {
  const out = new Set<Tensor>();
  for (const layer of s.layers) for (const v of Object.values(layer)) if (isTensor(v)) out.add(v);
  return out;
}

/** Frees the tensors of `old` that `next` does not hold. */
function release(old: LMState | undefined, next: LMState): void {
  if (!old) return;
  const live = stateTensors(next);
  dispose([...stateTensors(old)].filter((t) => !live.has(t)));
}

async function rows(logits: Tensor): Promise<Float32Array> {
  return Float32Array.from(await logits.data()); // [B, 1, V]
}

export async function generate(model: CausalLM, prompt: readonly (readonly number[])[] | Tensor, opts: GenerateOptions): Promise<GenerateResult> {
  checkSampling(opts);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) fail("generate", `maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  if (isTensor(prompt) && prompt.rank !== 2) fail("generate", `prompt must be [B, T], got [${prompt.shape}]`);
  const ids: number[][] = isTensor(prompt) ? ((await prompt.array()) as number[][]) : prompt.map((r) => [...r]);
  const B = ids.length;
  const T = ids[0]?.length ?? 0;
  if (!B || !T || ids.some((r) => r.length !== T)) fail("generate", "prompt must be a non-empty batch of equal-length token lists");
  for (const r of ids)
    for (const t of r) if (!Number.isInteger(t) || t < 0 || t >= model.vocabSize) fail("generate", `token id ${t} is outside the vocabulary [0, ${model.vocabSize})`);
  const eos = opts.eosTokenId === undefined || opts.eosTokenId === null ? [] : typeof opts.eosTokenId === "number" ? [opts.eosTokenId] : [...opts.eosTokenId];
  const pad = opts.padTokenId ?? eos[0] ?? 0;
  const rng = new HostRandom(opts.seed ?? 0);
  const backend = model.embed.weight.backend;
  const V = model.vocabSize;
  const generated: number[][] = ids.map(() => []);
  const done = ids.map(() => false);
  let stopped: GenerateResult["stopped"] = "length";
  let state: LMState | undefined;
  let input = tensor(ids, { dtype: "int32", backend });
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const prev = state;
      const out = tidy(() => model.forward(input, { state: prev, logits: "last" }));
      for (const t of stateTensors(out.state)) keep(t);
      release(prev, out.state);
      state = out.state;
      input.dispose();
      const logits = await rows(out.logits);
      out.logits.dispose();
      const next: number[] = [];
      let halt = false;
      for (let b = 0; b < B; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        // NaN or +inf logits (a diverged model, a bad checkpoint) have no distribution to sample.
        if (!done[b] && row.every((v) => v === -Infinity)) fail("generate", `every logit of sequence ${b} at step ${step} is -inf: no token can be sampled`);
        if (!done[b] && row.some((v) => Number.isNaN(v) || v === Infinity)) {
          const bad = row.findIndex((v) => Number.isNaN(v) || v === Infinity);
          fail(
            "generate",
            `the model's logits for sequence ${b} at step ${step} are not finite (${row[bad]} at token ${bad}); nothing can be sampled (the ${generated[b].length} token(s) generated before are in onToken's calls)`,
          );
        }
        const tok = done[b] ? pad : sampleToken(row, opts, rng);
        next.push(tok);
        if (done[b]) continue;
        generated[b].push(tok);
        if (eos.includes(tok)) done[b] = true;
        if (opts.onToken?.(tok, step, b) === false) halt = true;
      }
      input = tensor(
        next.map((t) => [t]),
        { dtype: "int32", backend },
      );
      if (halt) {
        stopped = "callback";
        break;
      }
      if (done.every(Boolean)) {
        stopped = "eos";
        break;
      }
    }
  } finally {
    input.dispose();
    if (state) dispose([...stateTensors(state)]);
  }
  return { sequences: ids.map((r, b) => [...r, ...generated[b]]), generated, stopped };
}

/** Runs exported graphs in onnxruntime-node and compares them with Tessera. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { tensor, type Tensor } from "@tessera/tensor";
import type { BertForMaskedLM, CausalLM, LMState, ViTForImageClassification } from "@tessera/models";

ort.env.logLevel = "error";

export const HF = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "fixtures", "hf");

export async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
}

const i64 = (rows: number[][]) => new ort.Tensor("int64", BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const ones = (B: number, n: number) => i64(Array.from({ length: B }, () => Array(n).fill(1)));
const positions = (B: number, from: number, n: number) => i64(Array.from({ length: B }, () => Array.from({ length: n }, (_, i) => from + i)));

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function argmaxLast(data: Float32Array, B: number, T: number, V: number): number[] {
  return Array.from({ length: B }, (_, b) => {
    const off = (b * T + T - 1) * V;
    let best = 0;
    for (let v = 1; v < V; v++) if (data[off + v] > data[off + best]) best = v;
    return best;
  });
}

export interface LMAgreement {
  prefill: number;
  decode: number;
}

/**
 * Prefill `prompt` [B][T] in the prefill graph (feeding its present.* to the decode graph), then
 * `steps` decode steps of the tokens Tessera's greedy decoding picks, comparing logits each time.
 */
export async function compareCausal(
  model: CausalLM,
  prefill: ort.InferenceSession,
  decode: ort.InferenceSession,
  prompt: number[][],
  steps: number,
  usesPositions: boolean,
): Promise<LMAgreement> {
  const B = prompt.length;
  const T = prompt[0].length;
  const feeds: Record<string, ort.Tensor> = { input_ids: i64(prompt), attention_mask: ones(B, T) };
  if (usesPositions) feeds.position_ids = positions(B, 0, T);
  let out = await prefill.run(feeds);
  const r = model.forward(tensor(prompt, { dtype: "int32" }));
  let state: LMState = r.state;
  const prefillErr = maxAbsDiff(out.logits.data as Float32Array, (await r.logits.data("float32")) as Float32Array);
  r.logits.dispose();
  const V = model.vocabSize;
  let next = argmaxLast(out.logits.data as Float32Array, B, T, V);
  let decodeErr = 0;
  let pos = T;
  for (let s = 0; s < steps; s++) {
    const f: Record<string, ort.Tensor> = { input_ids: i64(next.map((t) => [t])), attention_mask: ones(B, pos + 1) };
    if (usesPositions) f.position_ids = positions(B, pos, 1);
    for (const k of Object.keys(out)) if (k.startsWith("present.")) f[k.replace("present.", "past_key_values.")] = out[k];
    out = await decode.run(f);
    const t = model.forward(
      tensor(
        next.map((x) => [x]),
        { dtype: "int32" },
      ),
      { state },
    );
    model.disposeState(state);
    state = t.state;
    const tl = (await t.logits.data("float32")) as Float32Array;
    t.logits.dispose();
    decodeErr = Math.max(decodeErr, maxAbsDiff(out.logits.data as Float32Array, tl));
    next = argmaxLast(tl, B, 1, V);
    pos++;
  }
  model.disposeState(state);
  return { prefill: prefillErr, decode: decodeErr };
}

/** Greedy generation through ORT with the cache: prefill once, then one token per decode run. */
export async function ortGreedy(
  prefill: ort.InferenceSession,
  decode: ort.InferenceSession,
  prompt: number[],
  maxNew: number,
  usesPositions: boolean,
  V: number,
): Promise<number[]> {
  const T = prompt.length;
  const feeds: Record<string, ort.Tensor> = { input_ids: i64([prompt]), attention_mask: ones(1, T) };
  if (usesPositions) feeds.position_ids = positions(1, 0, T);
  let out = await prefill.run(feeds);
  let tok = argmaxLast(out.logits.data as Float32Array, 1, T, V)[0];
  const gen = [tok];
  for (let pos = T; gen.length < maxNew; pos++) {
    const f: Record<string, ort.Tensor> = { input_ids: i64([[tok]]), attention_mask: ones(1, pos + 1) };
    if (usesPositions) f.position_ids = positions(1, pos, 1);
    for (const k of Object.keys(out)) if (k.startsWith("present.")) f[k.replace("present.", "past_key_values.")] = out[k];
    out = await decode.run(f);
    tok = argmaxLast(out.logits.data as Float32Array, 1, 1, V)[0];
    gen.push(tok);
  }
  return gen;
}

export async function compareBert(model: BertForMaskedLM, s: ort.InferenceSession, ids: number[][], mask: number[][], types: number[][]): Promise<number> {
  const out = await s.run({ input_ids: i64(ids), attention_mask: i64(mask), token_type_ids: i64(types) });
  const r = model.forward(tensor(ids, { dtype: "int32" }), { attentionMask: tensor(mask, { dtype: "int32" }), tokenTypeIds: tensor(types, { dtype: "int32" }) });
  const d = maxAbsDiff(out.logits.data as Float32Array, (await r.logits.data("float32")) as Float32Array);
  r.logits.dispose();
  return d;
}

export async function compareViT(model: ViTForImageClassification, s: ort.InferenceSession, pixels: Tensor): Promise<number> {
  const data = (await pixels.data("float32")) as Float32Array;
  const out = await s.run({ pixel_values: new ort.Tensor("float32", data, pixels.shape) });
  const r = model.forward(pixels);
  const d = maxAbsDiff(out.logits.data as Float32Array, (await r.logits.data("float32")) as Float32Array);
  r.logits.dispose();
  return d;
}

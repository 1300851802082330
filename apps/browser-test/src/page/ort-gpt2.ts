/**
 * onnxruntime-web in the page: loads the GPT-2 graphs that @tessera/onnx exported in Node
 * (served at onnx/<name>-prefill.onnx and onnx/<name>-decode.onnx) with the wasm backend, whose
 * runtime is served from the app's node_modules/onnxruntime-web/dist at ort/ (nothing is
 * downloaded), then runs the prompt of onnx/probe.json and greedy decoding through the KV cache.
 * Returns every step's logits and the tokens; the Node side compares them with Tessera.
 * Bundled on its own (an application would load ORT the same way, beside its own bundle).
 */
import type * as Ort from "onnxruntime-web";

export interface OrtProbe {
  /** Graph pairs to run, e.g. ["gpt2", "gpt2-int4"]. */
  graphs: string[];
  prompt: number[];
  maxNewTokens: number;
}

export interface OrtRun {
  graph: string;
  /** Prefill logits [1, T, V], flattened. */
  prefill: number[];
  /** Logits [V] of each decode step (the token fed is the previous argmax). */
  steps: number[][];
  /** Greedy tokens: argmax of the prefill's last position, then of each step. */
  tokens: number[];
  vocab: number;
  executionProviders: string;
}

const here = (path: string) => new URL(path, location.href).href;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

function argmax(a: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
  return best;
}

async function runGraph(ort: typeof Ort, graph: string, prompt: number[], maxNewTokens: number): Promise<OrtRun> {
  const opts: Ort.InferenceSession.SessionOptions = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
  const prefill = await ort.InferenceSession.create(await fetchBytes(here(`onnx/${graph}-prefill.onnx`)), opts);
  const decode = await ort.InferenceSession.create(await fetchBytes(here(`onnx/${graph}-decode.onnx`)), opts);
  const ids = (xs: number[]) => new ort.Tensor("int64", BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const T = prompt.length;
  let out = await prefill.run({ input_ids: ids(prompt), attention_mask: ids(Array(T).fill(1)), position_ids: ids(range(0, T)) });
  const logits = out.logits.data as Float32Array;
  const V = out.logits.dims[2];
  const run: OrtRun = { graph, prefill: Array.from(logits), steps: [], tokens: [argmax(logits, (T - 1) * V, V)], vocab: V, executionProviders: "wasm" };
  for (let pos = T; run.tokens.length < maxNewTokens; pos++) {
    const feeds: Record<string, Ort.Tensor> = { input_ids: ids([run.tokens[run.tokens.length - 1]]), attention_mask: ids(Array(pos + 1).fill(1)), position_ids: ids([pos]) };
    for (const k of Object.keys(out)) if (k.startsWith("present.")) feeds[k.replace("present.", "past_key_values.")] = out[k];
    out = await decode.run(feeds);
    const step = out.logits.data as Float32Array;
    run.steps.push(Array.from(step));
    run.tokens.push(argmax(step, 0, V));
  }
  await prefill.release();
  await decode.release();
  return run;
}

export async function result(): Promise<OrtRun[]> {
  // A computed URL: esbuild leaves the import to the browser, which loads ORT's own ESM build.
  const ort = (await import(/* @vite-ignore */ here("ort/ort.wasm.min.mjs"))) as typeof Ort;
  ort.env.wasm.wasmPaths = here("ort/");
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  const probe = (await (await fetch(here("onnx/probe.json"))).json()) as OrtProbe;
  const runs: OrtRun[] = [];
  for (const g of probe.graphs) runs.push(await runGraph(ort, g, probe.prompt, probe.maxNewTokens));
  return runs;
}

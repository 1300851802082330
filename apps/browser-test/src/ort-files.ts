/**
 * What the onnxruntime-web page needs, made in Node: the GPT-2 fixture exported by @tessera/onnx
 * (prefill + KV-cache decode graphs, float32 and int4 MatMulNBits), the probe (prompt, number of
 * tokens), and where ORT's runtime is served from (this app's node_modules, no download).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { quantizeModel, type CausalLM } from "@tessera/models";
import { loadPretrained } from "@tessera/models/node";
import { exportOnnx } from "@tessera/onnx";
import type { OrtProbe } from "./page/ort-gpt2";

const here = dirname(fileURLToPath(import.meta.url));
/** onnxruntime-web's dist/ (ort.wasm.min.mjs, ort-wasm-simd-threaded.{mjs,wasm}), served at ort/. */
export const ORT_WEB_DIST = join(here, "..", "node_modules", "onnxruntime-web", "dist");

export const ORT_PROBE: OrtProbe = { graphs: ["gpt2", "gpt2-int4"], prompt: [1, 5, 2, 7, 3], maxNewTokens: 8 };
/** The int4 graph's format: what `quantizeModel` gives Tessera's side of the comparison. */
export const INT4_FORMAT = { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 32 } } as const;

/** The served files: onnx/<graph>-{prefill,decode}.onnx, onnx/probe.json and the bundled page module. */
export async function ortFiles(gpt2Dir: string): Promise<Record<string, { body: string | Uint8Array }>> {
  const files: Record<string, { body: string | Uint8Array }> = {};
  for (const graph of ORT_PROBE.graphs) {
    const p = loadPretrained(gpt2Dir);
    if (graph.endsWith("-int4")) quantizeModel(p.model, { format: INT4_FORMAT });
    const model = p.model as CausalLM;
    files[`/onnx/${graph}-prefill.onnx`] = { body: (await exportOnnx(model, p.info)).bytes };
    files[`/onnx/${graph}-decode.onnx`] = { body: (await exportOnnx(model, p.info, { decode: true })).bytes };
    p.model.dispose();
  }
  files["/onnx/probe.json"] = { body: JSON.stringify(ORT_PROBE) };
  const r = await build({
    entryPoints: [join(here, "page", "ort-gpt2.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  files["/ort-gpt2.js"] = { body: r.outputFiles[0].text };
  return files;
}

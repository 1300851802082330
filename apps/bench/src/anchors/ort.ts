/**
 * Small ONNX graphs (a MatMul, a Softmax, an attention written out) built with @tessera/onnx's
 * OnnxGraph, and sessions of any ONNX model bytes in onnxruntime-node.
 */
import * as ort from "onnxruntime-node";
import { float, OnnxGraph, type AttrValue } from "@tessera/onnx";

// Errors only: onnxruntime's warnings (graph-optimizer notes and the like) stay out of the bench output.
ort.env.logLevel = "error";

export type Attr = { name: string; int?: number; float?: number; string?: string };

export interface GraphSpec {
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Attr[] }[];
  inputs: [string, readonly number[]][];
  outputs: [string, readonly number[]][];
  opset: number;
}

const attrValue = (a: Attr): AttrValue => (a.int !== undefined ? a.int : a.float !== undefined ? float(a.float) : (a.string ?? ""));

/** A float32 graph of named nodes as ONNX ModelProto bytes (through OnnxGraph). */
export function onnxModel(spec: GraphSpec): Uint8Array {
  const g = new OnnxGraph("tessera_bench");
  for (const [n, s] of spec.inputs) g.input(n, "float32", s);
  for (const n of spec.nodes) g.node(n.op, n.inputs, Object.fromEntries((n.attrs ?? []).map((a) => [a.name, attrValue(a)])), { outputs: n.outputs });
  for (const [n, s] of spec.outputs) g.output(n, "float32", s);
  return g.toModel({ opset: spec.opset, producerName: "tessera-bench" });
}

/** A session over model bytes (all graph optimizations; `threads` 0 = onnxruntime's default). */
export function createSession(bytes: Uint8Array, threads = 0): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, graphOptimizationLevel: "all", logSeverityLevel: 3 });
}

export interface OrtRunner {
  run(feeds: Record<string, Float32Array>): Promise<Float32Array>;
  threads: number;
  release(): Promise<void>;
}

/** A session for a graph, fed float32 arrays of the declared shapes; returns the first output. */
export async function ortSession(g: GraphSpec, threads = 0): Promise<OrtRunner> {
  const session = await createSession(onnxModel(g), threads);
  const shapes = new Map(g.inputs);
  return {
    threads,
    async run(feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor("float32", v, [...shapes.get(k)!]);
      const out = await session.run(inputs);
      return out[g.outputs[0][0]].data as Float32Array;
    },
    release: () => session.release(),
  };
}

export { ort };

/**
 * Single-node ONNX models written by hand (a few protobuf fields), run with onnxruntime-node.
 * Field numbers are from onnx.proto: ModelProto{ir_version=1, producer_name=2, graph=7,
 * opset_import=8}, GraphProto{node=1, name=2, input=11, output=12}, NodeProto{input=1,
 * output=2, op_type=4, attribute=5}, AttributeProto{name=1, f=2, i=3, s=4, type=20},
 * ValueInfoProto{name=1, type=2}, TypeProto{tensor_type=1}, Tensor{elem_type=1, shape=2},
 * TensorShapeProto{dim=1}, Dimension{dim_value=1}.
 */
import * as ort from "onnxruntime-node";

// Errors only: onnxruntime's warnings (graph-optimizer notes and the like) stay out of the bench output.
ort.env.logLevel = "error";

type Field = Uint8Array;

function varint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

const tag = (field: number, wire: number): number[] => varint(BigInt((field << 3) | wire));
const cat = (...parts: (Field | number[])[]): Field => Uint8Array.from(parts.flatMap((p) => [...p]));
const int = (field: number, v: number): Field => cat(tag(field, 0), varint(BigInt(v)));
const bytes = (field: number, b: Field): Field => cat(tag(field, 2), varint(BigInt(b.length)), b);
const str = (field: number, s: string): Field => bytes(field, new TextEncoder().encode(s));
const float = (field: number, v: number): Field => cat(tag(field, 5), new Uint8Array(new Float32Array([v]).buffer));

export type Attr = { name: string; int?: number; float?: number; string?: string };

function attribute(a: Attr): Field {
  if (a.int !== undefined) return cat(str(1, a.name), int(3, a.int), int(20, 2));
  if (a.float !== undefined) return cat(str(1, a.name), float(2, a.float), int(20, 1));
  return cat(str(1, a.name), bytes(4, new TextEncoder().encode(a.string ?? "")), int(20, 3));
}

function valueInfo(name: string, shape: readonly number[]): Field {
  const dims = shape.map((d) => bytes(1, int(1, d)));
  const tensorType = cat(int(1, 1 /* FLOAT */), bytes(2, cat(...dims)));
  return cat(str(1, name), bytes(2, bytes(1, tensorType)));
}

export interface GraphSpec {
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Attr[] }[];
  inputs: [string, readonly number[]][];
  outputs: [string, readonly number[]][];
  opset: number;
}

/** Serializes a float32 graph to ONNX ModelProto bytes. */
export function onnxModel(g: GraphSpec): Uint8Array {
  const nodes = g.nodes.map((n) =>
    bytes(1, cat(...n.inputs.map((i) => str(1, i)), ...n.outputs.map((o) => str(2, o)), str(4, n.op), ...(n.attrs ?? []).map((a) => bytes(5, attribute(a))))),
  );
  const graph = cat(...nodes, str(2, "tessera_bench"), ...g.inputs.map(([n, s]) => bytes(11, valueInfo(n, s))), ...g.outputs.map(([n, s]) => bytes(12, valueInfo(n, s))));
  const opset = cat(str(1, ""), int(2, g.opset));
  return cat(int(1, 9), str(2, "tessera-bench"), bytes(7, graph), bytes(8, opset));
}

export interface OrtRunner {
  run(feeds: Record<string, Float32Array>): Promise<Float32Array>;
  threads: number;
  release(): Promise<void>;
}

/** A session for a graph, fed float32 arrays of the declared shapes; returns the first output. */
export async function ortSession(g: GraphSpec, threads = 0): Promise<OrtRunner> {
  const session = await ort.InferenceSession.create(onnxModel(g), { intraOpNumThreads: threads, graphOptimizationLevel: "all", logSeverityLevel: 3 });
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

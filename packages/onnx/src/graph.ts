/**
 * A small ONNX graph builder over `onnx-proto` (ONNX's onnx.proto compiled by protobufjs): value
 * names are strings, nodes are appended in topological order, initializers carry raw little-endian
 * bytes. `toModel()` returns ModelProto bytes that ONNX Runtime (and `onnx.load`) read.
 *
 *   const g = new OnnxGraph("tiny");
 *   const x = g.input("x", "float32", ["batch", 4]);
 *   const y = g.op("Softmax", [x], { axis: -1 });
 *   g.output(y, "float32", ["batch", 4], "y");
 *   const bytes = g.toModel({ opset: 17 });
 */
import onnxProto from "onnx-proto";
import type { onnx as P } from "onnx-proto";
import { fail } from "./errors";

// onnx-proto is CommonJS (protobufjs static code): Node's ESM loader sees only its default export.
const onnx = (onnxProto as unknown as { onnx: typeof P }).onnx;

/** Element types a graph value or initializer may have. */
export type OnnxDType = "float32" | "float16" | "int64" | "int32" | "bool" | "uint8" | "int8";

/** A dimension: a size, or a symbolic name ("batch_size"). */
export type Dim = number | string;

/** A float attribute, kept apart from integers (`{ epsilon: float(1e-5) }`). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
/** A list-of-floats attribute. */
export class FloatsAttr {
  constructor(readonly values: readonly number[]) {}
}
export const float = (v: number): FloatAttr => new FloatAttr(v);
export const floats = (v: readonly number[]): FloatsAttr => new FloatsAttr(v);

/** Integers (a number, or an integer list), strings, or float(x) / floats([...]). */
export type AttrValue = number | string | readonly number[] | FloatAttr | FloatsAttr;

const ELEM: Record<OnnxDType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
};

/** Bytes per element. */
export const DTYPE_BYTES: Record<OnnxDType, number> = { float32: 4, float16: 2, int64: 8, int32: 4, bool: 1, uint8: 1, int8: 1 };

/** The ONNX IR version that goes with an opset (onnx/helper.py VERSION_TABLE). */
export function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/** Initializer data: a typed array of the dtype's width (float16 as its uint16 bits). */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

export interface NodeOptions {
  /** Output count (default 1) or names. */
  outputs?: number | string[];
  /** Operator domain: "" (ONNX, default) or "com.microsoft". */
  domain?: string;
  name?: string;
}

export interface ModelOptions {
  /** The default-domain opset (17 or later: LayerNormalization). */
  opset: number;
  /** Other domains used, e.g. { "com.microsoft": 1 }. */
  domains?: Record<string, number>;
  producerName?: string;
  producerVersion?: string;
  /** Key/value strings stored in the model (metadata_props). */
  metadata?: Record<string, string>;
  docString?: string;
}

function attribute(name: string, v: AttrValue): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof FloatAttr) return { name, type: T.FLOAT, f: v.value };
  if (v instanceof FloatsAttr) return { name, type: T.FLOATS, floats: [...v.values] };
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) fail("OnnxGraph", `attribute '${name}' = ${v} is not an integer: wrap floats as float(${v})`);
    return { name, type: T.INT, i: v };
  }
  if (v.some((x) => !Number.isSafeInteger(x))) fail("OnnxGraph", `attribute '${name}' has non-integers: wrap float lists as floats([...])`);
  return { name, type: T.INTS, ints: [...v] };
}

function valueInfo(name: string, dtype: OnnxDType, shape: readonly Dim[]): P.IValueInfoProto {
  const dim = shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ELEM[dtype], shape: { dim } } } };
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class OnnxGraph {
  private readonly nodes: P.INodeProto[] = [];
  private readonly inputs: P.IValueInfoProto[] = [];
  private readonly outputs: P.IValueInfoProto[] = [];
  private readonly inits: P.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly consts = new Map<string, string>();
  private counter = 0;
  /** Bytes of the initializers so far. */
  weightBytes = 0;

  constructor(readonly name = "tessera") {}

  /** An unused value name starting with `hint` (claimed when a value takes it). */
  fresh(hint: string): string {
    let n = hint;
    while (this.names.has(n)) n = `${hint}_${++this.counter}`;
    return n;
  }

  private claim(name: string, what: string): string {
    if (this.names.has(name)) fail("OnnxGraph", `${what} '${name}' is already defined in the graph`);
    this.names.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, dtype: OnnxDType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name, "input"), dtype, shape));
    return name;
  }

  /**
   * Declares `value` a graph output named `name` (default: the value's own name; otherwise an
   * Identity node renames it).
   */
  output(value: string, dtype: OnnxDType, shape: readonly Dim[], name = value): string {
    if (name !== value) this.node("Identity", [value], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** A weight (or any constant tensor) stored in the file; returns its name. */
  initializer(name: string, dtype: OnnxDType, shape: readonly number[], data: TensorData): string {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.byteLength !== n * DTYPE_BYTES[dtype]) fail("OnnxGraph", `initializer '${name}' [${shape}] ${dtype} needs ${n * DTYPE_BYTES[dtype]} bytes, got ${data.byteLength}`);
    this.inits.push({ name: this.claim(name, "initializer"), dataType: ELEM[dtype], dims: [...shape], rawData: bytesOf(data) });
    this.weightBytes += data.byteLength;
    return name;
  }

  /** A small int64 constant (shapes, axes, indices), shared between uses. */
  ints(values: readonly number[], shape: readonly number[] = [values.length]): string {
    const key = `i64:${shape.join("x")}:${values.join(",")}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.initializer(
      this.fresh(`const_i64_${values.length === 1 ? String(values[0]).replace("-", "m") : "v"}`),
      "int64",
      shape,
      BigInt64Array.from(values.map((v) => BigInt(v))),
    );
    this.consts.set(key, name);
    return name;
  }

  /** A float32 constant, shared between uses (a scalar when `shape` is []). */
  floats(values: readonly number[], shape: readonly number[] = [values.length]): string {
    const key = `f32:${shape.join("x")}:${values.join(",")}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.initializer(this.fresh("const_f32"), "float32", shape, Float32Array.from(values));
    this.consts.set(key, name);
    return name;
  }

  /** Appends a node; returns its output names. */
  node(op: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, o: NodeOptions = {}): string[] {
    const outs = Array.isArray(o.outputs)
      ? o.outputs.map((n) => this.claim(n, "value"))
      : Array.from({ length: o.outputs ?? 1 }, () => this.claim(this.fresh(`${op}_${this.nodes.length}`), "value"));
    this.nodes.push({
      name: o.name ?? `${op}_${this.nodes.length}`,
      opType: op,
      domain: o.domain ?? "",
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** A single-output node; returns the output name. */
  op(op: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, o: Omit<NodeOptions, "outputs"> & { output?: string } = {}): string {
    return this.node(op, inputs, attrs, { ...o, outputs: o.output ? [o.output] : 1 })[0];
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** The ModelProto bytes. */
  toModel(o: ModelOptions): Uint8Array {
    if (!Number.isInteger(o.opset) || o.opset < 17 || o.opset > 23) fail("OnnxGraph", `opset ${o.opset} is not supported (17 .. 23)`);
    if (this.weightBytes >= 2 ** 31 - 2 ** 24)
      fail(
        "OnnxGraph",
        `the weights take ${(this.weightBytes / 2 ** 30).toFixed(2)} GiB: a single ONNX protobuf file is limited to 2 GiB (external data files are not implemented; try dtype 'float16')`,
      );
    const model: P.IModelProto = {
      irVersion: irVersionFor(o.opset),
      producerName: o.producerName ?? "tessera",
      producerVersion: o.producerVersion ?? "0.1.0",
      docString: o.docString ?? "",
      opsetImport: [{ domain: "", version: o.opset }, ...Object.entries(o.domains ?? {}).map(([domain, version]) => ({ domain, version }))],
      metadataProps: Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.inits },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

/** What `decodeModel` reads back from ModelProto bytes. */
export interface DecodedModel {
  irVersion: number;
  producerName: string;
  opsetImport: { domain: string; version: number }[];
  metadata: Record<string, string>;
  graph: {
    name: string;
    inputs: { name: string; elemType: number; shape: Dim[] }[];
    outputs: { name: string; elemType: number; shape: Dim[] }[];
    initializers: { name: string; dataType: number; dims: number[]; bytes: number }[];
    nodes: { opType: string; domain: string; inputs: string[]; outputs: string[] }[];
  };
}

/** Reads ModelProto bytes back (opsets, inputs, outputs, initializers, nodes), e.g. to check an export. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const m = onnx.ModelProto.decode(bytes);
  const num = (v: unknown) => Number(v ?? 0);
  const vi = (v: P.IValueInfoProto) => ({
    name: v.name ?? "",
    elemType: num(v.type?.tensorType?.elemType),
    shape: (v.type?.tensorType?.shape?.dim ?? []).map((d): Dim => (d.dimParam ? d.dimParam : num(d.dimValue))),
  });
  const g = m.graph;
  return {
    irVersion: num(m.irVersion),
    producerName: m.producerName ?? "",
    opsetImport: (m.opsetImport ?? []).map((o) => ({ domain: o.domain ?? "", version: num(o.version) })),
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""])),
    graph: {
      name: g?.name ?? "",
      inputs: (g?.input ?? []).map(vi),
      outputs: (g?.output ?? []).map(vi),
      initializers: (g?.initializer ?? []).map((t) => ({ name: t.name ?? "", dataType: num(t.dataType), dims: (t.dims ?? []).map(num), bytes: t.rawData?.length ?? 0 })),
      nodes: (g?.node ?? []).map((n) => ({ opType: n.opType ?? "", domain: n.domain ?? "", inputs: n.input ?? [], outputs: n.output ?? [] })),
    },
  };
}

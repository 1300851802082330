/**
 * ONNX export of Tessera models, read from the module tree so the graph computes what Tessera
 * computes:
 *  - CausalLM (GPT-2, Llama, Mistral, Qwen2, and compositions whose blocks are SelfAttention + MLP):
 *    inputs input_ids [batch_size, sequence_length], attention_mask [batch_size,
 *    total_sequence_length], position_ids [batch_size, sequence_length] (learned positions or
 *    RoPE); outputs logits [batch_size, sequence_length, vocab] and present.{i}.key/value
 *    [batch_size, kv_heads, total_sequence_length, head_dim]. The decode graph adds
 *    past_key_values.{i}.key/value [batch_size, kv_heads, past_sequence_length, head_dim]
 *    (Hugging Face optimum's names; total = past + sequence).
 *  - BertForMaskedLM: input_ids, attention_mask, token_type_ids -> logits.
 *  - ViTForImageClassification: pixel_values [batch_size, C, S, S] -> logits [batch_size, labels].
 * Activations are float32; weights are stored as float32 or float16 (then Cast to float32 in the
 * graph, as Tessera's half-weight projections compute in float32). Weight-only quantized
 * projections (Projection.quantize / quantizeModel, or dtype 'int4' at export) become ONNX
 * Runtime's com.microsoft MatMulNBits (nbits.ts).
 */
import { BertForMaskedLM, Block, CausalLM, MLP, Projection, SelfAttention, ViTForImageClassification, type Activation, type HFInfo } from "@tessera/models";
import { quantizeValues, type QuantFormat, type QuantizedTensor } from "@tessera/quantize";
import { LayerNorm, RMSNorm, ropeInvFreq, type Module, type RopeOptions, type Tensor } from "@tessera/tensor";
import { fail } from "./errors";
import { float, OnnxGraph, type Dim, type OnnxDType } from "./graph";
import { f32ToF16Bits } from "./half";
import { toMatMulNBits } from "./nbits";

export interface ExportOptions {
  /** Default-domain opset, 17 .. 21 (default 17: LayerNormalization; Gelu is an op from 20). */
  opset?: number;
  /** Causal LMs only: the KV-cache graph (past_key_values.* inputs). Default false (prefill). */
  decode?: boolean;
  /**
   * How weights are stored: 'float32' (default), 'float16' (half the file; computed in float32),
   * or 'int4': the blocks' projections quantized here as `quantizeModel` with
   * `{ type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: blockSize } }`
   * would, stored as MatMulNBits (the other weights float32). Projections already quantized in
   * Tessera are exported as MatMulNBits whatever the dtype.
   */
  dtype?: "float32" | "float16" | "int4";
  /** dtype 'int4': weights per scale along the input axis, a power of two >= 16 (default 32). */
  blockSize?: number;
  /** The graph's name (default: the model type). */
  name?: string;
}

export interface ValueSpec {
  name: string;
  dtype: OnnxDType;
  shape: Dim[];
}

export interface OnnxExport {
  /** The ModelProto bytes (write them to model.onnx). */
  bytes: Uint8Array;
  task: "causal-lm" | "masked-lm" | "image-classification";
  modelType: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  /** Bytes of the stored weights. */
  weightBytes: number;
  nodes: number;
  opset: number;
  /** Causal LMs: layers, kv heads and head dim of the cache (past_key_values.{i}.*). */
  cache?: { layers: number; kvHeads: number; headDim: number };
  /** Projections stored as com.microsoft MatMulNBits (Tessera's names). */
  quantizedLayers: string[];
}

const OP = "exportOnnx";
/** torch.finfo(float32).min, the masked logit (as Hugging Face's masks). */
const MASKED = -3.4028234663852886e38;

interface Ctx {
  g: OnnxGraph;
  /** How float weights are stored. */
  dtype: "float32" | "float16";
  /** dtype 'int4': the format float projections matching `include` are quantized to at export (groups of blockSize). */
  quantize: { format: QuantFormat; blockSize: number; include: RegExp } | null;
  /** Projections written as MatMulNBits. */
  nbits: string[];
  opset: number;
  names: (ours: string) => string;
  /** Shared values (masks, rope tables) by key. */
  memo: Map<string, string>;
}

function typeName(m: unknown): string {
  return (m as { constructor?: { name?: string } })?.constructor?.name ?? typeof m;
}

/** A weight as a float32 value in the graph (stored per ctx.dtype), optionally transposed [r, c] -> [c, r]. */
async function weight(c: Ctx, ours: string, t: Tensor, transpose2d = false): Promise<string> {
  const key = `w:${ours}:${transpose2d}`;
  const hit = c.memo.get(key);
  if (hit) return hit;
  let data = (await t.data("float32")) as Float32Array;
  let shape = [...t.shape];
  if (transpose2d) {
    const [r, cc] = shape;
    const out = new Float32Array(r * cc);
    for (let i = 0; i < r; i++) for (let j = 0; j < cc; j++) out[j * r + i] = data[i * cc + j];
    data = out;
    shape = [cc, r];
  }
  const base = c.names(ours) + (transpose2d ? ".T" : "");
  let v: string;
  if (c.dtype === "float16") {
    const stored = c.g.initializer(c.g.fresh(base), "float16", shape, f32ToF16Bits(data));
    v = c.g.op("Cast", [stored], { to: 1 /* FLOAT */ }, { output: c.g.fresh(`${base}.f32`) });
  } else v = c.g.initializer(c.g.fresh(base), "float32", shape, data);
  c.memo.set(key, v);
  return v;
}

/** The projection's weight quantized as dtype 'int4' asks (from its float [out, in] values), or null. */
async function quantizeAtExport(c: Ctx, p: Projection, name: string): Promise<QuantizedTensor | null> {
  if (!c.quantize?.include.test(name)) return null;
  const [N, K] = [p.outFeatures, p.inFeatures];
  const g = c.quantize.blockSize;
  if (K % g !== 0) fail(OP, `layer '${name}': blockSize ${g} does not divide its ${K} input features (the weight is [${N}, ${K}])`);
  const v = (await p.weight.data("float32")) as Float32Array;
  let outIn = v;
  if (p.layout === "in-out") {
    outIn = new Float32Array(N * K);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) outIn[n * K + k] = v[k * N + n];
  }
  return quantizeValues(outIn, [N, K], c.quantize.format);
}

/** y = x W^T through com.microsoft MatMulNBits. */
function matMulNBits(c: Ctx, x: string, q: QuantizedTensor, name: string): string {
  const w = toMatMulNBits(q, name, OP);
  const base = `${c.names(`${name}.weight`)}`;
  const g = c.g;
  const inputs = [
    x,
    g.initializer(g.fresh(`${base}_Q${w.bits}`), "uint8", [w.N, w.nBlocks, w.blobSize], w.B),
    g.initializer(g.fresh(`${base}_scales`), "float32", [w.N * w.nBlocks], w.scales),
  ];
  if (w.zeroPoints) {
    const z = w.zeroPoints;
    inputs.push(g.initializer(g.fresh(`${base}_zero_points`), z.kind === "packed" ? "uint8" : "float32", [z.data.length], z.data));
  }
  c.nbits.push(name);
  return g.op("MatMulNBits", inputs, { K: w.K, N: w.N, bits: w.bits, block_size: w.blockSize }, { domain: "com.microsoft" });
}

async function projection(c: Ctx, x: string, p: unknown, name: string): Promise<string> {
  if (!(p instanceof Projection)) fail(OP, `layer '${name}' is a ${typeName(p)}, not a Projection: it has no ONNX form here`);
  const q = p.quantized?.q ?? (await quantizeAtExport(c, p, name));
  let y = q ? matMulNBits(c, x, q, name) : c.g.op("MatMul", [x, await weight(c, `${name}.weight`, p.weight, p.layout === "out-in")]);
  if (p.bias) y = c.g.op("Add", [y, await weight(c, `${name}.bias`, p.bias)]);
  return y;
}

async function norm(c: Ctx, x: string, n: unknown, name: string): Promise<string> {
  if (n instanceof LayerNorm) {
    const d = n.weight?.shape ?? null;
    if (!n.weight) fail(OP, `layer '${name}': a LayerNorm without weights is not exported`);
    const inputs = [x, await weight(c, `${name}.weight`, n.weight)];
    if (n.bias) inputs.push(await weight(c, `${name}.bias`, n.bias));
    if (d && d.length !== 1) fail(OP, `layer '${name}': LayerNorm over ${d.length} dims is not exported`);
    return c.g.op("LayerNormalization", inputs, { axis: -1, epsilon: float(n.eps) });
  }
  if (n instanceof RMSNorm) {
    // x / sqrt(mean(x^2) + eps) * w
    const ms = reduceMean(c, c.g.op("Mul", [x, x]), [-1]);
    const rms = c.g.op("Sqrt", [c.g.op("Add", [ms, c.g.floats([n.eps], [])])]);
    return c.g.op("Mul", [c.g.op("Div", [x, rms]), await weight(c, `${name}.weight`, n.weight)]);
  }
  return fail(OP, `layer '${name}' is a ${typeName(n)}: only LayerNorm and RMSNorm are exported`);
}

function reduceMean(c: Ctx, x: string, axes: number[]): string {
  return c.opset >= 18 ? c.g.op("ReduceMean", [x, c.g.ints(axes)], { keepdims: 1 }) : c.g.op("ReduceMean", [x], { axes, keepdims: 1 });
}

function activation(c: Ctx, x: string, act: Activation): string {
  const g = c.g;
  switch (act) {
    case "gelu":
      if (c.opset >= 20) return g.op("Gelu", [x]);
      // 0.5 x (1 + erf(x / sqrt 2))
      return g.op("Mul", [g.op("Mul", [x, g.floats([0.5], [])]), g.op("Add", [g.op("Erf", [g.op("Div", [x, g.floats([Math.SQRT2], [])])]), g.floats([1], [])])]);
    case "gelu_new":
    case "gelu_pytorch_tanh": {
      if (c.opset >= 20) return g.op("Gelu", [x], { approximate: "tanh" });
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const x3 = g.op("Mul", [g.op("Mul", [x, x]), x]);
      const inner = g.op("Mul", [g.op("Add", [x, g.op("Mul", [x3, g.floats([0.044715], [])])]), g.floats([Math.sqrt(2 / Math.PI)], [])]);
      return g.op("Mul", [g.op("Mul", [x, g.floats([0.5], [])]), g.op("Add", [g.op("Tanh", [inner]), g.floats([1], [])])]);
    }
    case "silu":
    case "swish":
      return g.op("Mul", [x, g.op("Sigmoid", [x])]);
    case "relu":
      return g.op("Relu", [x]);
    default:
      return fail(OP, `activation '${String(act)}' has no ONNX form here`);
  }
}

async function mlp(c: Ctx, x: string, m: unknown, name: string): Promise<string> {
  if (!(m instanceof MLP)) fail(OP, `layer '${name}' is a ${typeName(m)}, not an MLP: it has no ONNX form here`);
  const up = await projection(c, x, m.up, `${name}.up`);
  const h = m.gate ? c.g.op("Mul", [activation(c, await projection(c, x, m.gate, `${name}.gate`), m.activation), up]) : activation(c, up, m.activation);
  return projection(c, h, m.down, `${name}.down`);
}

/** Scalar int64 dim `axis` of value `v`. */
function dimOf(c: Ctx, v: string, axis: number): string {
  return c.g.op("Squeeze", [c.g.op("Shape", [v], { start: axis, end: axis + 1 }), c.g.ints([0])]);
}

/** Attention geometry the graph needs once per model. */
interface Seq {
  /** Scalar int64 values: new tokens T, past P, total S = P + T. */
  T: string;
  P: string | null;
  S: string;
  /** [B, S] int64 (1 = token), or null (ViT). */
  attentionMask: string | null;
  /** [B, T] int64 positions, or null. */
  positionIds: string | null;
}

/** The bool mask [B or 1, 1, T, S] (true = attend) for causal / window settings. */
function allowedMask(c: Ctx, s: Seq, causal: boolean, window: number | null): string | null {
  const key = `mask:${causal}:${window}`;
  const hit = c.memo.get(key);
  if (hit) return hit;
  const g = c.g;
  let allowed: string | null = null;
  if (causal) {
    const qpos = g.op("Unsqueeze", [g.op("Range", [s.P ?? g.ints([0], []), s.S, g.ints([1], [])]), g.ints([1])]); // [T, 1]
    const kpos = g.op("Unsqueeze", [g.op("Range", [g.ints([0], []), s.S, g.ints([1], [])]), g.ints([0])]); // [1, S]
    allowed = g.op("LessOrEqual", [kpos, qpos]);
    if (window) allowed = g.op("And", [allowed, g.op("Greater", [kpos, g.op("Sub", [qpos, g.ints([window], [])])])]);
  }
  if (s.attentionMask) {
    const pad = g.op("Unsqueeze", [g.op("Cast", [s.attentionMask], { to: 9 /* BOOL */ }), g.ints([1, 2])]); // [B, 1, 1, S]
    allowed = allowed ? g.op("And", [allowed, pad]) : pad;
  }
  if (allowed) c.memo.set(key, allowed);
  return allowed;
}

/** cos and sin [B, 1, T, rotaryDim] at position_ids, for a rope setting. */
function ropeTables(c: Ctx, s: Seq, rope: RopeOptions, headDim: number, name: string): { cos: string; sin: string; r: number } {
  const r = rope.rotaryDim ?? headDim;
  if (rope.pairing === "interleaved") fail(OP, `layer '${name}': interleaved rotary pairing is not exported (only Hugging Face's rotate_half)`);
  if (rope.scaling?.type === "dynamic")
    fail(OP, `layer '${name}': dynamic (NTK) rope scaling depends on the sequence length and is not exported (supported: default, linear, llama3)`);
  if (!s.positionIds) fail(OP, `layer '${name}' uses rotary embeddings but the graph has no position_ids`);
  const key = `rope:${JSON.stringify({ ...rope, backend: undefined })}:${r}`;
  const hit = c.memo.get(key);
  if (hit) {
    const [cos, sin] = hit.split("\n");
    return { cos, sin, r };
  }
  const g = c.g;
  const inv = inverseFrequencies(r, rope);
  // angles in float32 as Tessera / PyTorch: fround(pos) * fround(inv_freq)
  const pos = g.op("Unsqueeze", [g.op("Cast", [s.positionIds], { to: 1 }), g.ints([-1])]); // [B, T, 1]
  const freqs = g.op("Mul", [pos, g.floats(inv.map(Math.fround), [inv.length])]); // [B, T, r/2]
  const emb = g.op("Unsqueeze", [g.op("Concat", [freqs, freqs], { axis: -1 }), g.ints([1])]); // [B, 1, T, r]
  const cos = g.op("Cos", [emb]);
  const sin = g.op("Sin", [emb]);
  c.memo.set(key, `${cos}\n${sin}`);
  return { cos, sin, r };
}

/** Inverse frequencies from @tessera/tensor's ropeInvFreq; only the static scalings (default, linear, llama3) are exported. */
function inverseFrequencies(r: number, o: RopeOptions): number[] {
  const sc = o.scaling;
  if (sc && sc.type !== "linear" && sc.type !== "llama3") fail(OP, `rope scaling '${(sc as { type: string }).type}' is not exported`);
  return ropeInvFreq(r, o);
}

function applyRope(c: Ctx, x: string, t: { cos: string; sin: string; r: number }, headDim: number): string {
  const g = c.g;
  const slice = (v: string, a: number, b: number) => g.op("Slice", [v, g.ints([a]), g.ints([b]), g.ints([-1])]);
  const { r } = t;
  const xr = r === headDim ? x : slice(x, 0, r);
  const rot = g.op("Concat", [g.op("Neg", [slice(xr, r / 2, r)]), slice(xr, 0, r / 2)], { axis: -1 });
  const y = g.op("Add", [g.op("Mul", [xr, t.cos]), g.op("Mul", [rot, t.sin])]);
  return r === headDim ? y : g.op("Concat", [y, slice(x, r, headDim)], { axis: -1 });
}

interface LayerCache {
  past?: { key: string; value: string };
  present?: { key: string; value: string };
}

async function attention(c: Ctx, x: string, a: unknown, name: string, s: Seq, cache: LayerCache): Promise<string> {
  if (!(a instanceof SelfAttention)) {
    fail(
      OP,
      `layer '${name}' is a ${typeName(a)} token mixer, which has no ONNX form (only SelfAttention is exported; Mamba's scan, linear-attention / retention mixers and custom mixers are not)`,
    );
  }
  const g = c.g;
  const o = a.opts;
  const { nHeads: H, nKvHeads: Hkv, headDim: Dh } = a;
  const [dq, dkv] = [H * Dh, Hkv * Dh];
  let q: string, k: string, v: string;
  if (a.qkv) {
    const fused = await projection(c, x, a.qkv, `${name}.qkv`);
    [q, k, v] = g.node("Split", [fused, g.ints([dq, dkv, dkv])], { axis: -1 }, { outputs: 3 });
  } else [q, k, v] = [await projection(c, x, a.q, `${name}.q`), await projection(c, x, a.k, `${name}.k`), await projection(c, x, a.v, `${name}.v`)];
  const heads = (t: string, h: number) => g.op("Transpose", [g.op("Reshape", [t, g.ints([0, 0, h, Dh])])], { perm: [0, 2, 1, 3] });
  q = heads(q, H);
  k = heads(k, Hkv);
  v = heads(v, Hkv);
  if (o.rope) {
    const t = ropeTables(c, s, o.rope, Dh, name);
    q = applyRope(c, q, t, Dh);
    k = applyRope(c, k, t, Dh);
  }
  if (cache.past) {
    k = g.op("Concat", [cache.past.key, k], { axis: 2 });
    v = g.op("Concat", [cache.past.value, v], { axis: 2 });
  }
  if (cache.present) {
    g.op("Identity", [k], {}, { output: cache.present.key });
    g.op("Identity", [v], {}, { output: cache.present.value });
  }
  if (Hkv !== H) {
    // Grouped-query attention: repeat each kv head H / Hkv times (Hugging Face's repeat_kv).
    const rep = (t: string) => g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [t, g.ints([2])]), g.ints([1, 1, H / Hkv, 1, 1])]), g.ints([0, H, -1, Dh])]);
    k = rep(k);
    v = rep(v);
  }
  const scale = o.scale ?? 1 / Math.sqrt(Dh);
  let scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: [0, 1, 3, 2] })]), g.floats([scale], [])]); // [B, H, T, S]
  const allowed = allowedMask(c, s, o.causal ?? true, o.window ?? null);
  let probs: string;
  if (o.kind === "sigmoid") {
    probs = g.op("Sigmoid", [g.op("Add", [scores, g.floats([o.sigmoidBias ?? -Math.log(1024)], [])])]);
    if (allowed) probs = g.op("Where", [allowed, probs, g.floats([0], [])]);
  } else {
    if (allowed) scores = g.op("Where", [allowed, scores, g.floats([MASKED], [])]);
    probs = g.op("Softmax", [scores], { axis: -1 });
  }
  const out = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: [0, 2, 1, 3] }), g.ints([0, 0, dq])]);
  return projection(c, out, a.o, `${name}.o`);
}

async function block(c: Ctx, x: string, b: unknown, name: string, s: Seq, cache: LayerCache): Promise<string> {
  if (!(b instanceof Block)) fail(OP, `layer '${name}' is a ${typeName(b)}, not a Block`);
  if (b.post) fail(OP, `layer '${name}.post' (${typeName(b.post)}) has no ONNX form: export the model without block post-layers`);
  const g = c.g;
  if (b.placement === "post") {
    const h = await norm(c, g.op("Add", [x, await attention(c, x, b.mixer, `${name}.mixer`, s, cache)]), b.norm1, `${name}.norm1`);
    return b.mlp ? norm(c, g.op("Add", [h, await mlp(c, h, b.mlp, `${name}.mlp`)]), b.norm2, `${name}.norm2`) : h;
  }
  const h = g.op("Add", [x, await attention(c, await norm(c, x, b.norm1, `${name}.norm1`), b.mixer, `${name}.mixer`, s, cache)]);
  return b.mlp ? g.op("Add", [h, await mlp(c, await norm(c, h, b.norm2, `${name}.norm2`), b.mlp, `${name}.mlp`)]) : h;
}

/** Checks every block's mixer before any weight is read, so a refusal names the first bad layer. */
function checkMixers(blocks: Iterable<unknown>): void {
  let i = 0;
  for (const b of blocks) {
    const mixer = (b as Block).mixer;
    if (!(mixer instanceof SelfAttention)) {
      fail(
        OP,
        `layer 'blocks.${i}.mixer' is a ${typeName(mixer)} token mixer, which has no ONNX form (only SelfAttention is exported; Mamba's scan, linear-attention / retention mixers and custom mixers are not)`,
      );
    }
    i++;
  }
}

/**
 * Exports a model as ONNX. `info` (from loadPretrained / modelFromConfig) names the weights as
 * the checkpoint does and is stored in the model's metadata; pass null for a model built by hand.
 */
export async function exportOnnx(model: Module, info: HFInfo | null, opts: ExportOptions = {}): Promise<OnnxExport> {
  const opset = opts.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 17 || opset > 21) fail(OP, `opset ${String(opts.opset)} is not supported (17 .. 21)`);
  const dtype = opts.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float16" && dtype !== "int4") fail(OP, `dtype '${String(dtype)}' is not supported (float32, float16, int4)`);
  const blockSize = opts.blockSize ?? 32;
  if (opts.blockSize !== undefined && dtype !== "int4") fail(OP, `blockSize applies to dtype 'int4' only (dtype is '${dtype}')`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || 2 ** Math.round(Math.log2(blockSize)) !== blockSize)
    fail(OP, `blockSize ${String(opts.blockSize)} is not a MatMulNBits block size (a power of two >= 16)`);
  const decode = opts.decode ?? false;
  const task =
    model instanceof CausalLM ? "causal-lm" : model instanceof BertForMaskedLM ? "masked-lm" : model instanceof ViTForImageClassification ? "image-classification" : null;
  if (!task) fail(OP, `a ${typeName(model)} is not exported (CausalLM, BertForMaskedLM, ViTForImageClassification)`);
  if (decode && task !== "causal-lm") fail(OP, `decode: a ${typeName(model)} has no KV cache (only causal LMs have a decode graph)`);
  const modelType = info?.modelType ?? task;
  const g = new OnnxGraph(opts.name ?? modelType);
  const quantize: Ctx["quantize"] =
    dtype === "int4" ? { format: { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: blockSize } }, blockSize, include: /^blocks\./ } : null;
  const c: Ctx = { g, dtype: dtype === "float16" ? "float16" : "float32", quantize, nbits: [], opset, names: (n) => (info ? info.names.toHF(n) : n), memo: new Map() };
  const inputs: ValueSpec[] = [];
  const outputs: ValueSpec[] = [];
  const input = (name: string, dt: OnnxDType, shape: Dim[]) => (inputs.push({ name, dtype: dt, shape }), g.input(name, dt, shape));
  const output = (value: string, name: string, dt: OnnxDType, shape: Dim[]) => (outputs.push({ name, dtype: dt, shape }), g.output(value, dt, shape, name));
  let cache: OnnxExport["cache"];

  if (model instanceof CausalLM) {
    checkMixers(model.blocks);
    const ids = input("input_ids", "int64", ["batch_size", "sequence_length"]);
    const mask = input("attention_mask", "int64", ["batch_size", "total_sequence_length"]);
    const first = model.blocks.at(0)?.mixer as SelfAttention | undefined;
    const usesPositions = model.pos !== null || [...model.blocks].some((b) => (b.mixer as SelfAttention).opts.rope);
    const positionIds = usesPositions ? input("position_ids", "int64", ["batch_size", "sequence_length"]) : null;
    const L = model.blocks.length;
    const caches: LayerCache[] = [];
    for (let l = 0; l < L; l++) {
      const a = model.blocks.at(l).mixer as SelfAttention;
      const shape = (len: string): Dim[] => ["batch_size", a.nKvHeads, len, a.headDim];
      const lc: LayerCache = {};
      if (decode)
        lc.past = {
          key: input(`past_key_values.${l}.key`, "float32", shape("past_sequence_length")),
          value: input(`past_key_values.${l}.value`, "float32", shape("past_sequence_length")),
        };
      lc.present = { key: `present.${l}.key`, value: `present.${l}.value` };
      caches.push(lc);
    }
    const T = dimOf(c, ids, 1);
    const P = decode ? dimOf(c, caches[0].past!.key, 2) : null;
    const S = P ? g.op("Add", [P, T]) : T;
    const s: Seq = { T, P, S, attentionMask: mask, positionIds };
    let h = g.op("Gather", [await weight(c, "embed.weight", model.embed.weight), ids], { axis: 0 });
    if (model.pos) h = g.op("Add", [h, g.op("Gather", [await weight(c, "pos.weight", model.pos.weight), positionIds!], { axis: 0 })]);
    for (let l = 0; l < L; l++) h = await block(c, h, model.blocks.at(l), `blocks.${l}`, s, caches[l]);
    h = await norm(c, h, model.norm, "norm");
    const logits = model.head
      ? await projection(c, h, model.head, "head")
      : g.op("MatMul", [h, g.op("Transpose", [await weight(c, "embed.weight", model.embed.weight)], { perm: [1, 0] })]);
    output(logits, "logits", "float32", ["batch_size", "sequence_length", model.vocabSize]);
    for (let l = 0; l < L; l++) {
      const a = model.blocks.at(l).mixer as SelfAttention;
      const shape: Dim[] = ["batch_size", a.nKvHeads, "total_sequence_length", a.headDim];
      output(caches[l].present!.key, `present.${l}.key`, "float32", shape);
      output(caches[l].present!.value, `present.${l}.value`, "float32", shape);
    }
    cache = { layers: L, kvHeads: first?.nKvHeads ?? 0, headDim: first?.headDim ?? 0 };
  } else if (model instanceof BertForMaskedLM) {
    checkMixers(model.blocks);
    const ids = input("input_ids", "int64", ["batch_size", "sequence_length"]);
    const mask = input("attention_mask", "int64", ["batch_size", "sequence_length"]);
    const types = input("token_type_ids", "int64", ["batch_size", "sequence_length"]);
    const T = dimOf(c, ids, 1);
    const s: Seq = { T, P: null, S: T, attentionMask: mask, positionIds: null };
    const positions = g.op("Range", [g.ints([0], []), T, g.ints([1], [])]);
    const emb = g.op("Add", [
      g.op("Add", [
        g.op("Gather", [await weight(c, "embed.weight", model.embed.weight), ids], { axis: 0 }),
        g.op("Gather", [await weight(c, "pos.weight", model.pos.weight), positions], { axis: 0 }),
      ]),
      g.op("Gather", [await weight(c, "types.weight", model.types.weight), types], { axis: 0 }),
    ]);
    let h = await norm(c, emb, model.embedNorm, "embedNorm");
    let l = 0;
    for (const b of model.blocks) h = await block(c, h, b, `blocks.${l++}`, s, {});
    const t = await norm(c, activation(c, await projection(c, h, model.headDense, "headDense"), model.opts.headActivation), model.headNorm, "headNorm");
    const logits = g.op("Add", [
      g.op("MatMul", [t, g.op("Transpose", [await weight(c, "embed.weight", model.embed.weight)], { perm: [1, 0] })]),
      await weight(c, "headBias", model.headBias),
    ]);
    output(logits, "logits", "float32", ["batch_size", "sequence_length", model.opts.vocabSize]);
  } else if (model instanceof ViTForImageClassification) {
    checkMixers(model.blocks);
    const { channels: C, imageSize: S, patchSize: p, dModel: D, numLabels } = model.opts;
    const pixels = input("pixel_values", "float32", ["batch_size", C, S, S]);
    const conv = g.op("Conv", [pixels, await weight(c, "patch.weight", model.patch.weight), await weight(c, "patch.bias", model.patch.bias)], {
      kernel_shape: [p, p],
      strides: [p, p],
    }); // [B, D, S/p, S/p]
    const patches = g.op("Transpose", [g.op("Reshape", [conv, g.ints([0, D, -1])])], { perm: [0, 2, 1] }); // [B, N, D]
    const cls = g.op("Expand", [await weight(c, "cls", model.cls), g.op("Concat", [g.op("Shape", [pixels], { start: 0, end: 1 }), g.ints([1, D])], { axis: 0 })]);
    let h = g.op("Add", [g.op("Concat", [cls, patches], { axis: 1 }), await weight(c, "pos", model.pos)]);
    const none: Seq = { T: "", P: null, S: "", attentionMask: null, positionIds: null };
    let l = 0;
    for (const b of model.blocks) h = await block(c, h, b, `blocks.${l++}`, none, {});
    const first = g.op("Gather", [await norm(c, h, model.norm, "norm"), g.ints([0], [])], { axis: 1 }); // [B, D]
    output(await projection(c, first, model.classifier, "classifier"), "logits", "float32", ["batch_size", numLabels]);
  }
  const metadata: Record<string, string> = { task: task!, model_type: modelType, weights_dtype: dtype, graph: decode ? "decode" : "prefill" };
  if (c.nbits.length) metadata.matmulnbits_layers = String(c.nbits.length);
  if (info) metadata.config = JSON.stringify(info.config);
  const domains = c.nbits.length ? { "com.microsoft": 1 } : undefined;
  const bytes = g.toModel({ opset, producerName: "tessera", metadata, domains });
  return {
    bytes,
    task: task!,
    modelType,
    inputs,
    outputs,
    weightBytes: g.weightBytes,
    nodes: g.nodeCount,
    opset,
    ...(cache ? { cache } : {}),
    quantizedLayers: c.nbits,
  };
}

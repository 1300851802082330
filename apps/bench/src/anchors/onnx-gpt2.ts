/**
 * GPT-2 written out as an ONNX graph for onnxruntime-node: the anchor a user would reach for
 * (transformers.js and friends run GPT-2 through ONNX Runtime). Batch 1, 2-D activations [T, D]
 * so every projection is a Gemm and no shape tensors are needed; attention is per head:
 *   q_h, k_h, v_h = Gemm(LN1(x), W_h, b_h)                [T, Dh]
 *   p_h = Softmax(q_h k_h^T * scale + mask)               Gemm(transB = 1, alpha = scale)
 *   x += Gemm(Concat_h(p_h v_h), W_o, b_o)
 *   x += Gemm(Gelu_tanh(Gemm(LN2(x), W_fc, b_fc)), W_proj, b_proj)
 *   logits = Gemm(LN_f(x), wte, transB = 1)               [T, V]
 * Prefill takes the token + position embeddings x [T, D] and an additive causal mask [T, T]; a
 * decode step takes x [1, D] and the past keys/values of every head ([P, Dh] each) and attends
 * to all of them. The weights are graph inputs (fed once per run).
 */
import type { Tensor } from "@tessera/tensor";
import type { GraphSpec } from "./onnx";

export interface Gpt2Dims {
  D: number;
  H: number;
  L: number;
  V: number;
  eps: number;
}

type Node = GraphSpec["nodes"][number];

/** The graph; `past` = 0 for prefill of T tokens, P > 0 for one decode step after P tokens. */
export function gpt2Graph(d: Gpt2Dims, T: number, past: number): GraphSpec {
  const { D, H, L, V, eps } = d;
  const Dh = D / H;
  const inner = 4 * D;
  const nodes: Node[] = [];
  const inputs: [string, readonly number[]][] = [["x0", [T, D]]];
  if (!past) inputs.push(["mask", [T, T]]);
  const w = (name: string, shape: number[]) => (inputs.push([name, shape]), name);
  const ln = (x: string, p: string, out: string) => nodes.push({ op: "LayerNormalization", inputs: [x, w(`${p}.g`, [D]), w(`${p}.b`, [D])], outputs: [out], attrs: [{ name: "axis", int: -1 }, { name: "epsilon", float: eps }] });
  const gemm = (a: string, b: string, c: string | null, out: string, attrs: GraphSpec["nodes"][number]["attrs"] = []) => nodes.push({ op: "Gemm", inputs: c ? [a, b, c] : [a, b], outputs: [out], attrs });
  let x = "x0";
  for (let l = 0; l < L; l++) {
    const p = `h${l}`;
    ln(x, `${p}.ln1`, `${p}.a`);
    const heads: string[] = [];
    for (let h = 0; h < H; h++) {
      const q = `${p}.q${h}`;
      for (const t of ["q", "k", "v"]) gemm(`${p}.a`, w(`${p}.W${t}${h}`, [D, Dh]), w(`${p}.b${t}${h}`, [Dh]), `${p}.${t}${h}`);
      let k = `${p}.k${h}`;
      let v = `${p}.v${h}`;
      if (past) {
        nodes.push({ op: "Concat", inputs: [w(`${p}.pk${h}`, [past, Dh]), k], outputs: [`${k}.all`], attrs: [{ name: "axis", int: 0 }] });
        nodes.push({ op: "Concat", inputs: [w(`${p}.pv${h}`, [past, Dh]), v], outputs: [`${v}.all`], attrs: [{ name: "axis", int: 0 }] });
        k = `${k}.all`;
        v = `${v}.all`;
      }
      gemm(q, k, null, `${p}.s${h}`, [{ name: "transB", int: 1 }, { name: "alpha", float: 1 / Math.sqrt(Dh) }]);
      let s = `${p}.s${h}`;
      if (!past) {
        nodes.push({ op: "Add", inputs: [s, "mask"], outputs: [`${s}.m`] });
        s = `${s}.m`;
      }
      nodes.push({ op: "Softmax", inputs: [s], outputs: [`${p}.p${h}`], attrs: [{ name: "axis", int: -1 }] });
      nodes.push({ op: "MatMul", inputs: [`${p}.p${h}`, v], outputs: [`${p}.o${h}`] });
      heads.push(`${p}.o${h}`);
    }
    nodes.push({ op: "Concat", inputs: heads, outputs: [`${p}.o`], attrs: [{ name: "axis", int: 1 }] });
    gemm(`${p}.o`, w(`${p}.Wo`, [D, D]), w(`${p}.bo`, [D]), `${p}.attn`);
    nodes.push({ op: "Add", inputs: [x, `${p}.attn`], outputs: [`${p}.r1`] });
    ln(`${p}.r1`, `${p}.ln2`, `${p}.c`);
    gemm(`${p}.c`, w(`${p}.Wfc`, [D, inner]), w(`${p}.bfc`, [inner]), `${p}.f`);
    nodes.push({ op: "Gelu", inputs: [`${p}.f`], outputs: [`${p}.g`], attrs: [{ name: "approximate", string: "tanh" }] });
    gemm(`${p}.g`, w(`${p}.Wproj`, [inner, D]), w(`${p}.bproj`, [D]), `${p}.m`);
    nodes.push({ op: "Add", inputs: [`${p}.r1`, `${p}.m`], outputs: [`${p}.r2`] });
    x = `${p}.r2`;
  }
  ln(x, "lnf", "xf");
  gemm("xf", w("wte", [V, D]), null, "logits", [{ name: "transB", int: 1 }]);
  return { nodes, inputs, outputs: [["logits", [T, V]]], opset: 20 };
}

/** Columns [c0, c0 + n) of a row-major [rows, cols] matrix. */
function cols(a: Float32Array, rows: number, ncols: number, c0: number, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * ncols + c0, r * ncols + c0 + n), r * n);
  return out;
}

/** Feeds for the graph's weights, from a Hugging Face GPT-2 state dict (cpu tensors). */
export function gpt2Feeds(d: Gpt2Dims, state: Record<string, Tensor>): Record<string, Float32Array> {
  const { D, H, L } = d;
  const Dh = D / H;
  const f = (k: string) => state[k].dataSync() as Float32Array;
  const feeds: Record<string, Float32Array> = { wte: f("transformer.wte.weight"), "lnf.g": f("transformer.ln_f.weight"), "lnf.b": f("transformer.ln_f.bias") };
  for (let l = 0; l < L; l++) {
    const p = `h${l}`;
    const s = `transformer.h.${l}`;
    const Wqkv = f(`${s}.attn.c_attn.weight`); // [D, 3D], Conv1D layout
    const bqkv = f(`${s}.attn.c_attn.bias`);
    for (let h = 0; h < H; h++) {
      ["q", "k", "v"].forEach((t, i) => {
        feeds[`${p}.W${t}${h}`] = cols(Wqkv, D, 3 * D, i * D + h * Dh, Dh);
        feeds[`${p}.b${t}${h}`] = bqkv.slice(i * D + h * Dh, i * D + (h + 1) * Dh);
      });
    }
    Object.assign(feeds, {
      [`${p}.ln1.g`]: f(`${s}.ln_1.weight`), [`${p}.ln1.b`]: f(`${s}.ln_1.bias`),
      [`${p}.ln2.g`]: f(`${s}.ln_2.weight`), [`${p}.ln2.b`]: f(`${s}.ln_2.bias`),
      [`${p}.Wo`]: f(`${s}.attn.c_proj.weight`), [`${p}.bo`]: f(`${s}.attn.c_proj.bias`),
      [`${p}.Wfc`]: f(`${s}.mlp.c_fc.weight`), [`${p}.bfc`]: f(`${s}.mlp.c_fc.bias`),
      [`${p}.Wproj`]: f(`${s}.mlp.c_proj.weight`), [`${p}.bproj`]: f(`${s}.mlp.c_proj.bias`),
    });
  }
  return feeds;
}

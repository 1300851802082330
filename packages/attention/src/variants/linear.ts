/**
 * Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs") and TransNormer's
 * NormAttention (Qin et al. 2022, "The Devil in Linear Transformer").
 *
 * With a feature map phi (elu+1 by default):
 *   linear:  out_i = phi(q_i)^T S_i / (phi(q_i)^T z_i),   S_i = sum_j phi(k_j) v_j^T,  z_i = sum_j phi(k_j)
 *   norm:    out_i = Norm(phi(q_i)^T S_i)   (LayerNorm or RMSNorm over the value features;
 *            no denominator, which is what keeps its gradients bounded)
 * with j over all keys, or j <= i when causal. Three forms that must agree:
 *   parallel:  A = phi(Q) phi(K)^T (lower-triangular when causal), out = A V (/ rowsum A)
 *   recurrent: S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t)   (the RNN view; also the
 *              one-token decoding step)
 *   chunked:   per chunk c, inter = phi(Q_c) S_prev, intra = tril(phi(Q_c) phi(K_c)^T) V_c
 * Heads: grouped-query inputs are supported by repeating key/value heads.
 */
import {
  add,
  concat,
  div,
  elu,
  expand,
  layerNorm,
  matmul,
  mul as mulScalar,
  narrow,
  relu,
  reshape,
  rmsNorm,
  sum,
  tidy,
  transpose,
  tril,
  unsqueeze,
  zeros,
  type Tensor,
} from "@tessera/tensor";
import { checkQKV, fail, type QKVDims } from "../shapes";

export type FeatureMap = "elu+1" | "relu" | "identity" | ((x: Tensor) => Tensor);

export function featureMap(x: Tensor, fm: FeatureMap = "elu+1"): Tensor {
  if (typeof fm === "function") return fm(x);
  if (fm === "elu+1") return add(elu(x), 1);
  if (fm === "relu") return relu(x);
  if (fm === "identity") return x;
  fail("featureMap", `unknown feature map '${String(fm)}'`);
}

/** k/v heads repeated to the query heads (repeat_interleave on the head axis). */
export function repeatKV(x: Tensor, G: number): Tensor {
  if (G === 1) return x;
  const [B, Hkv, T, D] = x.shape;
  return reshape(expand(unsqueeze(x, 2), [B, Hkv, G, T, D]), [B, Hkv * G, T, D]);
}

export interface LinearFormOptions {
  causal?: boolean;
  form?: "parallel" | "recurrent" | "chunked";
  /** Chunk length of the chunked form (default 64). */
  chunkSize?: number;
  featureMap?: FeatureMap;
  /** Scales q before the feature map (default 1: none, as the original formulation). */
  scale?: number;
}

/** numerator [B, H, Tq, Dv] and phi(q).z [B, H, Tq, 1] of any form. */
function linearCore(fq: Tensor, fk: Tensor, v: Tensor, d: QKVDims, o: LinearFormOptions): { num: Tensor; den: Tensor } {
  const causal = !!o.causal;
  const form = o.form ?? "parallel";
  if (causal && d.Tq !== d.Tk) fail("linearAttention", `causal linear attention needs Tq = Tk (got ${d.Tq} and ${d.Tk})`);
  if (!causal || form === "parallel") {
    if (!causal) {
      // Associativity: phi(Q) (phi(K)^T V) costs O(T D Dv) instead of O(T^2).
      const S = matmul(transpose(fk), v); // [B, H, D, Dv]
      const z = sum(fk, 2, { keepdims: true }); // [B, H, 1, D]
      return { num: matmul(fq, S), den: matmul(fq, transpose(z)) };
    }
    const A = tril(matmul(fq, transpose(fk))); // [B, H, T, T]
    return { num: matmul(A, v), den: sum(A, -1, { keepdims: true }) };
  }
  if (form === "recurrent") {
    let S = zeros([d.B, d.H, d.D, d.Dv], { backend: fq.backend });
    let z = zeros([d.B, d.H, 1, d.D], { backend: fq.backend });
    const nums: Tensor[] = [];
    const dens: Tensor[] = [];
    for (let t = 0; t < d.Tq; t++) {
      const kt = narrow(fk, 2, t, 1); // [B, H, 1, D]
      const qt = narrow(fq, 2, t, 1);
      S = add(S, matmul(transpose(kt), narrow(v, 2, t, 1)));
      z = add(z, kt);
      nums.push(matmul(qt, S));
      dens.push(matmul(qt, transpose(z)));
    }
    return { num: concat(nums, 2), den: concat(dens, 2) };
  }
  if (form !== "chunked") fail("linearAttention", `unknown form '${String(form)}'`);
  const C = Math.max(1, o.chunkSize ?? 64);
  let S = zeros([d.B, d.H, d.D, d.Dv], { backend: fq.backend });
  let z = zeros([d.B, d.H, 1, d.D], { backend: fq.backend });
  const nums: Tensor[] = [];
  const dens: Tensor[] = [];
  for (let c0 = 0; c0 < d.Tq; c0 += C) {
    const n = Math.min(C, d.Tq - c0);
    const qc = narrow(fq, 2, c0, n);
    const kc = narrow(fk, 2, c0, n);
    const vc = narrow(v, 2, c0, n);
    const A = tril(matmul(qc, transpose(kc))); // [B, H, n, n]
    nums.push(add(matmul(qc, S), matmul(A, vc)));
    dens.push(add(matmul(qc, transpose(z)), sum(A, -1, { keepdims: true })));
    S = add(S, matmul(transpose(kc), vc));
    z = add(z, sum(kc, 2, { keepdims: true }));
  }
  return { num: concat(nums, 2), den: concat(dens, 2) };
}

function prepare(op: string, q: Tensor, k: Tensor, v: Tensor, o: LinearFormOptions): { fq: Tensor; fk: Tensor; v: Tensor; d: QKVDims } {
  const d0 = checkQKV(op, q, k, v);
  const d = { ...d0, Hkv: d0.H, G: 1 };
  const qs = o.scale && o.scale !== 1 ? mulScalar(q, o.scale) : q;
  return { fq: featureMap(qs, o.featureMap), fk: featureMap(repeatKV(k, d0.G), o.featureMap), v: repeatKV(v, d0.G), d };
}

export interface LinearAttentionOptions extends LinearFormOptions {
  /** Added to the denominator (default 0). */
  eps?: number;
}

/** Linear attention: phi(q)^T S / phi(q)^T z (see the file header for the forms). */
export function linearAttention(q: Tensor, k: Tensor, v: Tensor, opts: LinearAttentionOptions = {}): Tensor {
  return tidy(() => {
    const { fq, fk, v: vv, d } = prepare("linearAttention", q, k, v, opts);
    const { num, den } = linearCore(fq, fk, vv, d, opts);
    return div(num, opts.eps ? add(den, opts.eps) : den);
  });
}

export interface NormAttentionOptions extends LinearFormOptions {
  /** 'layer' (LayerNorm, default) or 'rms' over the value features. */
  norm?: "layer" | "rms";
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/** TransNormer NormAttention: Norm(phi(q)^T S), no denominator. */
export function normAttention(q: Tensor, k: Tensor, v: Tensor, opts: NormAttentionOptions = {}): Tensor {
  return tidy(() => {
    const { fq, fk, v: vv, d } = prepare("normAttention", q, k, v, opts);
    const { num } = linearCore(fq, fk, vv, d, opts);
    const eps = opts.eps ?? 1e-5;
    return opts.norm === "rms" ? rmsNorm(num, opts.weight ?? null, eps) : layerNorm(num, opts.weight ?? null, opts.bias ?? null, eps);
  });
}

/** Recurrent state of causal linear attention: S [B, H, D, Dv] and z [B, H, 1, D]. */
export interface LinearState {
  S: Tensor;
  z: Tensor;
}

export function linearInitState(batch: number, heads: number, keyDim: number, valueDim: number, backend?: string): LinearState {
  return { S: zeros([batch, heads, keyDim, valueDim], { backend }), z: zeros([batch, heads, 1, keyDim], { backend }) };
}

/**
 * One decoding step of causal linear attention (or of NormAttention with `norm`): q, k, v
 * [B, H, 1, D]; returns the output and the next state (the old one is not disposed).
 */
export function linearAttentionStep(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  state: LinearState,
  opts: LinearAttentionOptions & { norm?: "layer" | "rms" } = {},
): { output: Tensor; state: LinearState } {
  return tidy(() => {
    const { fq, fk, v: vv } = prepare("linearAttentionStep", q, k, v, opts);
    const S = add(state.S, matmul(transpose(fk), vv));
    const z = add(state.z, fk);
    const num = matmul(fq, S);
    let output: Tensor;
    if (opts.norm) output = opts.norm === "rms" ? rmsNorm(num, null, opts.eps ?? 1e-5) : layerNorm(num, null, null, opts.eps ?? 1e-5);
    else output = div(num, add(matmul(fq, transpose(z)), opts.eps ?? 0));
    return { output, state: { S, z } };
  });
}

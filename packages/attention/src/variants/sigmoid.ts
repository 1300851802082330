/**
 * Sigmoid attention (Ramapuram et al. 2025, "Theory, Analysis, and Best Practices for Sigmoid
 * Self-Attention"; apple/ml-sigmoid-attention):
 *   out = sigmoid(q k^T * scale + b + bias) v,   b = -log(Tk) by default,
 * with no normalization over keys. Masked logits (-inf) contribute sigmoid(-inf) = 0.
 * Because rows are not normalized, the tiled form sums independent key blocks; its backward
 * recomputes each block: ds = dp * p (1 - p).
 */
import { add, concat, customGrad, matmul, mul, narrow, reshape, sigmoid, sub, tidy, transpose, zeros, type Tensor } from "@tessera/tensor";
import { biasBlock, type BiasOptions } from "../bias";
import { grouped } from "../sdpa";
import { checkQKV, type QKVDims } from "../shapes";

export interface SigmoidAttentionOptions extends BiasOptions {
  /** The logit offset b (default -log(Tk), the paper's recommendation). */
  bias?: number;
  scale?: number;
  implementation?: "reference" | "tiled";
  blockSize?: number;
}

/** sigmoid(logits + b + bias) for key columns [j0, j0 + n): [B, H, Tq, n]. */
function probs(q: Tensor, k: Tensor, d: QKVDims, o: SigmoidAttentionOptions, scale: number, b: number, j0: number, n: number): Tensor {
  const kb = n === d.Tk ? k : narrow(k, 2, j0, n);
  let s = add(reshape(mul(matmul(grouped(q, d), transpose(kb)), scale), [d.B, d.H, d.Tq, n]), b);
  const bias = biasBlock("sigmoidAttention", o, d, j0, n, q.backend);
  if (bias) s = add(s, bias);
  return sigmoid(s);
}

const pv = (p: Tensor, v: Tensor, d: QKVDims): Tensor => reshape(matmul(reshape(p, [d.B, d.Hkv, d.G * d.Tq, p.shape[3]]), v), [d.B, d.H, d.Tq, v.shape[3]]);

export function sigmoidAttention(q: Tensor, k: Tensor, v: Tensor, opts: SigmoidAttentionOptions = {}): Tensor {
  const d = checkQKV("sigmoidAttention", q, k, v);
  const scale = opts.scale ?? 1 / Math.sqrt(d.D);
  const b = opts.bias ?? -Math.log(d.Tk);
  if (opts.implementation !== "tiled") return tidy(() => pv(probs(q, k, d, opts, scale, b, 0, d.Tk), v, d));
  const block = Math.max(1, opts.blockSize ?? 256);
  const blocks: [number, number][] = [];
  for (let j0 = 0; j0 < d.Tk; j0 += block) blocks.push([j0, Math.min(block, d.Tk - j0)]);
  const op = customGrad((qq: Tensor, kk: Tensor, vv: Tensor) => {
    let acc = zeros([d.B, d.H, d.Tq, d.Dv], { backend: q.backend });
    for (const [j0, n] of blocks) {
      const next = tidy(() => add(acc, pv(probs(qq, kk, d, opts, scale, b, j0, n), narrow(vv, 2, j0, n), d)));
      acc.dispose();
      acc = next;
    }
    return {
      value: acc,
      grad: (dy: Tensor) => {
        const dyg = reshape(dy, [d.B, d.Hkv, d.G * d.Tq, d.Dv]);
        let dq = zeros([d.B, d.Hkv, d.G * d.Tq, d.D], { backend: q.backend });
        const dks: Tensor[] = [];
        const dvs: Tensor[] = [];
        for (const [j0, n] of blocks) {
          const r = tidy(() => {
            const p = probs(qq, kk, d, opts, scale, b, j0, n);
            const pg = reshape(p, [d.B, d.Hkv, d.G * d.Tq, n]);
            const dp = reshape(matmul(dyg, transpose(narrow(vv, 2, j0, n))), [d.B, d.H, d.Tq, n]);
            const ds = reshape(mul(mul(dp, mul(p, sub(1, p))), scale), [d.B, d.Hkv, d.G * d.Tq, n]);
            return { dq: add(dq, matmul(ds, narrow(kk, 2, j0, n))), dk: matmul(transpose(ds), grouped(qq, d)), dv: matmul(transpose(pg), dyg) };
          });
          dq.dispose();
          dq = r.dq;
          dks.push(r.dk);
          dvs.push(r.dv);
        }
        return [reshape(dq, [d.B, d.H, d.Tq, d.D]), concat(dks, 2), concat(dvs, 2)];
      },
    };
  }, "sigmoidAttention");
  return op(q, k, v);
}

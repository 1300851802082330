/**
 * Flash-style tiled attention (Dao et al. 2022, FlashAttention; the online softmax of
 * Milakov & Gimelshein 2018). Keys are visited in blocks; per query row a running max m, a
 * running sum l and an unnormalized output acc are rescaled as blocks arrive:
 *   s = q k_j^T * scale + bias_j
 *   m' = max(m, rowmax(s));  p = exp(s - m');  c = exp(m - m')
 *   l  = l c + rowsum(p);    acc = acc c + p v_j;  m = m'
 *   out = acc / l,   lse = m + log l   (the only statistic kept for the backward pass)
 * Memory is O(Tq * block) instead of O(Tq * Tk). The backward pass recomputes each block's
 * probabilities from lse (FlashAttention's backward):
 *   p = exp(s - lse);  dv_j = p^T dy;  dp = dy v_j^T;  ds = p (dp - rowsum(dy * out))
 *   dq += ds k_j * scale;  dk_j = ds^T q * scale   (softcap: ds *= 1 - tanh^2(s_raw / c))
 * Everything is tensor ops, so it runs (and differentiates) on every backend. Fused kernels take
 * over where registered (kernels.ts): on cpu the forward and backward are one WebAssembly SIMD
 * kernel (flash-wasm/, every bias but a general mask); on webgpu the forward is one WGSL kernel
 * for scale + causal (`@tessera/attention/webgpu` registers flash-wgsl.ts).
 */
import {
  add,
  concat,
  customGrad,
  registerKernel,
  dispose,
  getKernel,
  div,
  exp,
  full,
  isinf,
  log,
  matmul,
  max,
  maximum,
  mul,
  narrow,
  reshape,
  square,
  sub,
  sum,
  tanh,
  tidy,
  transpose,
  where,
  zeros,
  type Tensor,
} from "@tessera/tensor";
import { biasBlock, checkBias } from "./bias";
import type { AttentionOptions } from "./sdpa";
import { grouped } from "./sdpa";
import type { QKVDims } from "./shapes";
import { FLASH_ATTENTION, FUSED_ATTENTION, type FlashForwardKernel, type FusedAttentionKernel, type FusedAttentionOptions } from "./kernels";
import { wasmFlashKernel } from "./flash-wasm/kernel";

const DEFAULT_BLOCK = 256;

// The cpu backend's fused kernel (WebAssembly SIMD), registered like any backend's: a lookup, not
// an `if` on the backend's name. A call here, not a bare import, so bundlers keep it.
registerKernel(FUSED_ATTENTION, "cpu", wasmFlashKernel);

/** m with -inf replaced by 0 (a row that has seen only masked keys so far). */
const safeMax = (m: Tensor): Tensor => where(isinf(m), 0, m);

/**
 * The registered fused kernel (forward and backward in one; the cpu backend's is the WebAssembly
 * SIMD flash attention of flash-wasm/) with its options, where it covers this call: every bias
 * but a general mask. Undefined otherwise (the composed form runs).
 */
export function fusedKernel(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  d: QKVDims,
  o: AttentionOptions,
  scale: number,
): { kernel: FusedAttentionKernel; fo: FusedAttentionOptions } | undefined {
  if (o.mask) return undefined;
  const kernel = getKernel<FusedAttentionKernel>(FUSED_ATTENTION, q.backend, { count: false });
  const fo: FusedAttentionOptions = {
    scale,
    causal: !!o.causal,
    window: o.window ?? null,
    keyPadding: o.keyPadding ?? null,
    alibiSlopes: o.alibiSlopes ?? null,
    softcap: o.softcap ?? null,
    maskedRows: o.maskedRows ?? "nan",
  };
  return kernel?.applies(q, k, v, d, fo) ? { kernel, fo } : undefined;
}

/** Attention through the fused kernel, its backward as the custom gradient. */
function fusedAttention(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, o: AttentionOptions, { kernel, fo }: { kernel: FusedAttentionKernel; fo: FusedAttentionOptions }): Tensor {
  getKernel(FUSED_ATTENTION, q.backend); // counted in kernelStats as the kernel that ran
  checkBias("tiledAttention", o, d);
  const fwd = customGrad((qq: Tensor, kk: Tensor, vv: Tensor) => {
    const r = kernel.forward(qq, kk, vv, d, fo);
    return { value: r.out, grad: (dy: Tensor, qkv: readonly Tensor[]) => r.backward(dy, qkv) };
  }, "tiledAttention");
  return fwd(q, k, v);
}

export function tiledAttention(q: Tensor, k: Tensor, v: Tensor, d: QKVDims, o: AttentionOptions, scale: number): Tensor {
  const fused = fusedKernel(q, k, v, d, o, scale);
  if (fused) return fusedAttention(q, k, v, d, o, fused);
  const block = Math.max(1, o.blockSize ?? DEFAULT_BLOCK);
  const backend = q.backend;
  const blocks: [number, number][] = [];
  for (let j0 = 0; j0 < d.Tk; j0 += block) blocks.push([j0, Math.min(block, d.Tk - j0)]);
  const kBlock = (t: Tensor, [j0, n]: [number, number]) => narrow(t, 2, j0, n);
  /** Logits and bias of one key block: [B, H, Tq, n]. */
  const scores = (qq: Tensor, kk: Tensor, b: [number, number]): { raw: Tensor; s: Tensor } => {
    const raw = reshape(mul(matmul(grouped(qq, d), transpose(kBlock(kk, b))), scale), [d.B, d.H, d.Tq, b[1]]);
    let s = o.softcap ? mul(tanh(div(raw, o.softcap)), o.softcap) : raw;
    const bias = biasBlock("tiledAttention", o, d, b[0], b[1], backend);
    if (bias) s = add(s, bias);
    return { raw, s };
  };
  /** The forward as tensor ops (any backend, any bias): out and the row logsumexp. */
  const opsForward = (qq: Tensor, kk: Tensor, vv: Tensor): { out: Tensor; lse: Tensor } => {
    let m = full([d.B, d.H, d.Tq, 1], -Infinity, { backend });
    let l = zeros([d.B, d.H, d.Tq, 1], { backend });
    let acc = zeros([d.B, d.H, d.Tq, d.Dv], { backend });
    for (const b of blocks) {
      // Only the running statistics survive a block: memory stays O(Tq * block).
      const next = tidy(() => {
        const { s } = scores(qq, kk, b);
        const mNew = maximum(m, max(s, -1, { keepdims: true }));
        const ms = safeMax(mNew);
        const p = exp(sub(s, ms)); // [B, H, Tq, n]
        const c = exp(sub(m, ms)); // rescales what came before
        const pv = reshape(matmul(reshape(p, [d.B, d.Hkv, d.G * d.Tq, b[1]]), kBlock(vv, b)), [d.B, d.H, d.Tq, d.Dv]);
        return { m: mNew, l: add(mul(l, c), sum(p, -1, { keepdims: true })), acc: add(mul(acc, c), pv) };
      });
      dispose([m, l, acc]);
      ({ m, l, acc } = next);
    }
    const out = tidy(() => (o.maskedRows === "zero" ? where(isinf(m), 0, div(acc, l)) : div(acc, l)));
    const lse = add(safeMax(m), log(l)); // [B, H, Tq, 1]; -inf for fully masked rows
    dispose([m, l, acc]);
    return { out, lse };
  };
  // The fused kernel covers scale + causal only; any other bias runs the composed forward.
  const plain = !o.mask && !o.window && !o.keyPadding && !o.alibiSlopes && !o.softcap && o.maskedRows !== "zero";
  const kernel = plain ? getKernel<FlashForwardKernel>(FLASH_ATTENTION, backend) : undefined;
  const fwdKernel = kernel?.applies(q, d) ? kernel : undefined;
  const fwd = customGrad((qq: Tensor, kk: Tensor, vv: Tensor) => {
    const { out, lse } = fwdKernel ? fwdKernel.run(qq, kk, vv, d, scale, !!o.causal) : opsForward(qq, kk, vv);
    const saved = reshape(out, out.shape); // a handle the backward keeps even if the caller frees out
    return {
      value: out,
      grad: (dy: Tensor) => {
        const D = sum(mul(dy, saved), -1, { keepdims: true }); // [B, H, Tq, 1]
        const dyg = reshape(dy, [d.B, d.Hkv, d.G * d.Tq, d.Dv]);
        let dq = zeros([d.B, d.Hkv, d.G * d.Tq, d.D], { backend });
        const dks: Tensor[] = [];
        const dvs: Tensor[] = [];
        for (const b of blocks) {
          const r = tidy(() => {
            const { raw, s } = scores(qq, kk, b);
            const p = where(isinf(lse), 0, exp(sub(s, lse))); // [B, H, Tq, n]
            const pg = reshape(p, [d.B, d.Hkv, d.G * d.Tq, b[1]]);
            const dp = reshape(matmul(dyg, transpose(kBlock(vv, b))), [d.B, d.H, d.Tq, b[1]]);
            let ds = mul(p, sub(dp, D));
            if (o.softcap) ds = mul(ds, sub(1, square(tanh(div(raw, o.softcap)))));
            const dsg = reshape(mul(ds, scale), [d.B, d.Hkv, d.G * d.Tq, b[1]]);
            return { dq: add(dq, matmul(dsg, kBlock(kk, b))), dk: matmul(transpose(dsg), grouped(qq, d)), dv: matmul(transpose(pg), dyg) };
          });
          dq.dispose();
          dq = r.dq;
          dks.push(r.dk); // [B, Hkv, n, D]
          dvs.push(r.dv); // [B, Hkv, n, Dv]
        }
        return [reshape(dq, [d.B, d.H, d.Tq, d.D]), concat(dks, 2), concat(dvs, 2)];
      },
    };
  }, "tiledAttention");
  return fwd(q, k, v);
}

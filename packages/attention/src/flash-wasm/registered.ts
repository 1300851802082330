/**
 * The attention forward through the cpu backend's registered "cpuAttention" kernel
 * (@tessera/tensor's CPU_ATTENTION; @tessera/native registers one on Node) instead of the
 * WebAssembly forward kernels: q, k and v are read where they lie (a fused qkv projection's
 * columns, a key / value cache's storage; other layouts are copied first), and the output is
 * written as [B, Tq, H, Dv] and returned as its [B, H, Tq, Dv] view, so merging the heads after
 * it (transpose + reshape) copies nothing. Same semantics; the logsumexp is saved in the
 * WebAssembly forward's layout, so the WebAssembly backward serves both.
 */
import { CPU_ATTENTION, type CpuAttentionKernel, type CpuAttentionRows, float32Rows, float32Values, getKernel, type Tensor, tensor, transpose } from "@tessera/tensor";
import { FlashWasm, type FlashProblem, type FlashSaved, padded } from "./runtime";

/** The registered cpu attention kernel, or undefined (counted in kernelStats only when there is one and it runs). */
export function registeredAttention(): CpuAttentionKernel | undefined {
  return getKernel<CpuAttentionKernel>(CPU_ATTENTION, "cpu", { count: false });
}

/** Rows of a [B, heads, T, D] operand in place, or of a contiguous copy. */
function rowsOf(t: Tensor): CpuAttentionRows {
  const r = float32Rows(t);
  if (r) return { data: r.data, offset: r.offset, strides: [r.strides[0], r.strides[1], r.strides[2]] };
  const [, H, T, D] = t.shape;
  return { data: float32Values(t), offset: 0, strides: [H * T * D, T * D, D] };
}

/** out [B, H, Tq, Dv] (a view of a [B, Tq, H, Dv] array) and what the WebAssembly backward needs; null when the kernel declines the problem. */
export function forwardRegistered(
  kernel: CpuAttentionKernel,
  p: FlashProblem,
  q: Tensor,
  k: Tensor,
  v: Tensor,
): { out: Tensor; saved: FlashSaved; outValues: () => Float32Array } | null {
  const BH = p.B * p.H;
  const out = new Float32Array(BH * p.Tq * p.Dv); // [B, Tq, H, Dv]
  const lse = new Float32Array(BH * p.Tq);
  // The key bias the WebAssembly backward is saved with ([B, Tkp]: -inf on padding keys and past
  // Tk); the kernel takes its first Tk columns of each row.
  const kbias = FlashWasm.keyBias(p);
  const { Tkp, Tqp } = padded(p);
  const keyBias = p.keyPadding ? Float32Array.from({ length: p.B * p.Tk }, (_, i) => kbias[Math.floor(i / p.Tk) * Tkp + (i % p.Tk)]) : null;
  const { keyPadding: _padding, alibiSlopes, ...same } = p; // the rest is the registered kernel's problem as it is
  const problem = { ...same, keyBias, alibiSlopes: alibiSlopes ? Float32Array.from(alibiSlopes) : null };
  const outRows: CpuAttentionRows = { data: out, offset: 0, strides: [p.Tq * p.H * p.Dv, p.Dv, p.H * p.Dv] };
  if (!kernel.forward(problem, rowsOf(q), rowsOf(k), rowsOf(v), outRows, lse)) return null;
  getKernel(CPU_ATTENTION, "cpu"); // counted in kernelStats as the kernel that ran
  const saved = new Float32Array(BH * Tqp).fill(Number.NEGATIVE_INFINITY);
  for (let bh = 0; bh < BH; bh++) saved.set(lse.subarray(bh * p.Tq, (bh + 1) * p.Tq), bh * Tqp);
  const stored = tensor(out, { shape: [p.B, p.Tq, p.H, p.Dv], backend: q.backend });
  const view = transpose(stored, 1, 2);
  stored.dispose();
  // out as [B, H, Tq, Dv] values, for the backward (out itself: the view may be disposed by then)
  const outValues = () => {
    const dense = new Float32Array(out.length);
    for (let b = 0; b < p.B; b++)
      for (let r = 0; r < p.Tq; r++)
        for (let h = 0; h < p.H; h++) {
          const from = ((b * p.Tq + r) * p.H + h) * p.Dv;
          dense.set(out.subarray(from, from + p.Dv), ((b * p.H + h) * p.Tq + r) * p.Dv);
        }
    return dense;
  };
  return { out: view, saved: { lse: saved, kbias }, outValues };
}

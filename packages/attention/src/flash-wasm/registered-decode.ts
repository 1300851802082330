/**
 * Decode steps (at most DECODE_MAX_TQ query rows) through the cpu backend's registered
 * "cpuAttentionDecode" kernel (@tessera/tensor's CPU_ATTENTION_DECODE; @tessera/native registers
 * one on Node) instead of the WebAssembly flash_decode: keys and values are read in place (the
 * cache's storage, no copy into WASM memory), on the kernel's own threads. Same semantics; what
 * it saves for the backward has flash_fwd's layout, so the WebAssembly backward serves both.
 */
import { CPU_ATTENTION_DECODE, type CpuAttentionDecodeKernel, type CpuHeadRows, getKernel } from "@tessera/tensor";
import { DECODE_MAX_TQ, FlashWasm, type FlashProblem, type FlashSaved, type HeadBlocks, padded } from "./runtime";

/** The registered decode kernel where it serves this problem (few query rows), else undefined. */
export function registeredDecode(p: FlashProblem): CpuAttentionDecodeKernel | undefined {
  if (p.Tq > DECODE_MAX_TQ) return undefined;
  if (!getKernel(CPU_ATTENTION_DECODE, "cpu", { count: false })) return undefined;
  return getKernel<CpuAttentionDecodeKernel>(CPU_ATTENTION_DECODE, "cpu"); // counted in kernelStats
}

/** Head h's rows of x [heads, T, D] at data[offset + h * stride]. */
const rows = (x: HeadBlocks, T: number, D: number): CpuHeadRows => (x instanceof Float32Array ? { data: x, offset: 0, stride: T * D } : x);

/** q [heads, Tq, D] as one dense array (a view of x where its heads are packed, else a copy). */
function dense(x: HeadBlocks, heads: number, T: number, D: number): Float32Array {
  const r = rows(x, T, D);
  if (r.stride === T * D || heads <= 1) return r.data.subarray(r.offset, r.offset + heads * T * D);
  const out = new Float32Array(heads * T * D);
  for (let h = 0; h < heads; h++) out.set(r.data.subarray(r.offset + h * r.stride, r.offset + h * r.stride + T * D), h * T * D);
  return out;
}

/** out [B, H, Tq, Dv] and the saved values of the WebAssembly forward (lse [B*H, Tqp], -inf on padding rows; the key bias). */
export function decodeRegistered(kernel: CpuAttentionDecodeKernel, p: FlashProblem, q: HeadBlocks, k: HeadBlocks, v: HeadBlocks): { out: Float32Array; saved: FlashSaved } {
  const BH = p.B * p.H;
  const out = new Float32Array(BH * p.Tq * p.Dv);
  const lse = new Float32Array(BH * p.Tq);
  let keyBias: Float32Array | null = null;
  if (p.keyPadding) {
    keyBias = new Float32Array(p.B * p.Tk);
    for (let i = 0; i < keyBias.length; i++) if (p.keyPadding[i] !== 0) keyBias[i] = Number.NEGATIVE_INFINITY;
  }
  kernel.decode(
    {
      B: p.B,
      H: p.H,
      Hkv: p.Hkv,
      Tq: p.Tq,
      Tk: p.Tk,
      D: p.D,
      Dv: p.Dv,
      scale: p.scale,
      causal: p.causal,
      window: p.window,
      softcap: p.softcap,
      zeroMaskedRows: p.zeroMaskedRows,
      keyBias,
      alibiSlopes: p.alibiSlopes ? Float32Array.from(p.alibiSlopes) : null,
    },
    dense(q, BH, p.Tq, p.D),
    rows(k, p.Tk, p.D),
    rows(v, p.Tk, p.Dv),
    out,
    lse,
  );
  const { Tqp } = padded(p);
  const saved = new Float32Array(BH * Tqp).fill(Number.NEGATIVE_INFINITY);
  for (let bh = 0; bh < BH; bh++) saved.set(lse.subarray(bh * p.Tq, (bh + 1) * p.Tq), bh * Tqp);
  return { out, saved: { lse: saved, kbias: FlashWasm.keyBias(p) } };
}

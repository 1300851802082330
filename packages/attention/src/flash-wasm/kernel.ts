/**
 * The cpu backend's fused attention (FUSED_ATTENTION in @tessera/tensor's kernel registry): the
 * WebAssembly SIMD kernel of runtime.ts behind tiled.ts's `customGrad` (the forward through a
 * registered "cpuAttention" kernel where there is one: registered.ts); tiled.ts registers it
 * when it loads. It declines (the composed form runs) where WebAssembly SIMD
 * is missing, under the 'reference' kernel preference, for non-float32 inputs and for problems
 * beyond WebAssembly's 2 GiB of memory.
 */
import { appendInfo, float32Blocks, float32Values, residentEligible, tensor, type Tensor } from "@tessera/tensor";
import type { FusedAttentionKernel, FusedAttentionOptions } from "../kernels";
import type { QKVDims } from "../shapes";
import { forwardRegistered, registeredAttention } from "./registered";
import { flashFits, flashWasm, type FlashProblem, type HeadBlocks } from "./runtime";

/**
 * q, k or v [B, heads, T, D] as the kernel copies it in: where each head's [T, D] rows are
 * contiguous and the heads evenly strided (contiguous tensors; the first T rows of an `append`
 * key cache [B, Hkv, capacity, D]) read in place, else a contiguous copy. `watched`: the cpu
 * backend reports writes to it, so flash_decode may keep it resident (resident-kv.ts).
 */
function headBlocks(t: Tensor): HeadBlocks {
  const b = float32Blocks(t, 2);
  if (!b) return float32Values(t);
  // One head (B * Hkv = 1): its stride is the buffer's capacity rows, not this view's T rows, so
  // a growing cache keeps one key in the resident cache.
  const cap = b.blocks === 1 ? appendInfo(t)?.capacity : undefined;
  const stride = cap !== undefined ? Math.max(b.stride, cap * t.shape[t.rank - 1]) : b.stride;
  return { data: b.data, offset: b.offset, stride, watched: residentEligible(t) };
}

function problem(d: QKVDims, o: FusedAttentionOptions): FlashProblem {
  const slopes = o.alibiSlopes ? (Array.isArray(o.alibiSlopes) ? (o.alibiSlopes as readonly number[]) : float32Values(o.alibiSlopes as Tensor)) : null;
  return {
    B: d.B,
    H: d.H,
    Hkv: d.Hkv,
    Tq: d.Tq,
    Tk: d.Tk,
    D: d.D,
    Dv: d.Dv,
    scale: o.scale,
    causal: o.causal,
    window: o.window,
    keyPadding: o.keyPadding ? (o.keyPadding.dataSync() as ArrayLike<number>) : null,
    alibiSlopes: slopes,
    softcap: o.softcap || null,
    zeroMaskedRows: o.maskedRows === "zero",
  };
}

export const wasmFlashKernel: FusedAttentionKernel = {
  applies(q, k, v, d, o) {
    if (q.dtype !== "float32" || k.dtype !== "float32" || v.dtype !== "float32") return false;
    if (!flashWasm()) return false;
    return flashFits(problem(d, { ...o, keyPadding: null, alibiSlopes: null }));
  },
  forward(q, k, v, d, o) {
    const kern = flashWasm();
    if (!kern) throw new Error("scaledDotProductAttention: the WebAssembly attention kernel went away between applies() and forward()");
    const p = problem(d, o);
    // Views of the inputs where each head is contiguous (no copy: the kernel copies them into WASM
    // memory at once); nothing is kept for the backward, which gets q, k, v from the tape (alive
    // even when the caller disposed its handles, e.g. head-split views made inside a tidy).
    // The registered cpu attention forward where there is one (@tessera/native's) and it takes
    // the problem, else WebAssembly's.
    const registered = registeredAttention();
    const fwd = registered ? forwardRegistered(registered, p, q, k, v) : null;
    const wasm = fwd ? null : kern.forward(p, headBlocks(q), headBlocks(k), headBlocks(v));
    const outT = fwd ? fwd.out : tensor(wasm!.out, { shape: [d.B, d.H, d.Tq, d.Dv], backend: q.backend });
    const saved = fwd ? fwd.saved : wasm!.saved;
    return {
      out: outT,
      backward(dy, [qq, kk, vv]) {
        const out = wasm ? wasm.out : fwd!.outValues();
        const [dq, dk, dv] = kern.backward(p, headBlocks(qq), headBlocks(kk), headBlocks(vv), out, float32Values(dy), saved);
        return [tensor(dq, { shape: q.shape, backend: q.backend }), tensor(dk, { shape: k.shape, backend: k.backend }), tensor(dv, { shape: v.shape, backend: v.backend })];
      },
    };
  },
};

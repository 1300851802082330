/**
 * The addon's decode-step attention ("cpuAttentionDecode") against its definition in float64
 * (csrc/attention.h: softmax of the scaled logits with softcap, ALiBi and key padding, inside the
 * causal / sliding-window band, bottom-right aligned; grouped-query heads), for every instruction
 * set this cpu runs and 1-3 threads, keys and values read in place from a cache with room past Tk
 * (offset and head stride). Bounds: out within 1e-5 absolute (values in [-1, 1)), lse within
 * 1e-5 relative; every thread count bit-identical. Then its bad-input errors.
 */
import { CPU_ATTENTION_DECODE, type CpuAttentionDecodeKernel, type CpuAttentionDecodeProblem, getKernel } from "@tessera/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon";
import { configureNative, disableNative, enableNative, type NativeIsa } from "../src/index";
import { info, values } from "./helpers";

type Case = Omit<CpuAttentionDecodeProblem, "keyBias" | "alibiSlopes"> & { padding?: boolean; alibi?: boolean; capacity: number; offset: number };

const base = { scale: 0.3, causal: true, window: null, softcap: null, zeroMaskedRows: false, capacity: 0, offset: 0 };
const CASES: Case[] = [
  { ...base, B: 1, H: 12, Hkv: 12, Tq: 1, Tk: 129, D: 64, Dv: 64, capacity: 160, offset: 7 }, // GPT-2 decode @128
  { ...base, B: 2, H: 8, Hkv: 2, Tq: 3, Tk: 77, D: 33, Dv: 17, capacity: 80 }, // grouped heads, ragged dims
  { ...base, B: 1, H: 4, Hkv: 1, Tq: 8, Tk: 8, D: 5, Dv: 7, causal: false, padding: true },
  { ...base, B: 1, H: 3, Hkv: 3, Tq: 2, Tk: 300, D: 64, Dv: 48, window: [17, 0], softcap: 2.5 },
  { ...base, B: 2, H: 4, Hkv: 2, Tq: 4, Tk: 50, D: 16, Dv: 16, alibi: true, padding: true, capacity: 64, offset: 3 },
  // windows that leave some rows no key: NaN rows, or 0 with zeroMaskedRows
  { ...base, B: 1, H: 2, Hkv: 1, Tq: 4, Tk: 6, D: 8, Dv: 8, causal: false, window: [0, 0], padding: true },
  { ...base, B: 1, H: 2, Hkv: 2, Tq: 3, Tk: 5, D: 4, Dv: 4, window: [0, 0], padding: true, zeroMaskedRows: true },
  { ...base, B: 1, H: 1, Hkv: 1, Tq: 1, Tk: 1, D: 1, Dv: 1 },
];

interface Inputs {
  p: CpuAttentionDecodeProblem;
  q: Float32Array;
  k: { data: Float32Array; offset: number; stride: number };
  v: { data: Float32Array; offset: number; stride: number };
}

function inputs(c: Case, seed: number): Inputs {
  const kStride = Math.max(c.capacity, c.Tk) * c.D;
  const vStride = Math.max(c.capacity, c.Tk) * c.Dv;
  const heads = c.B * c.Hkv;
  const keyBias = c.padding ? Float32Array.from({ length: c.B * c.Tk }, (_, i) => (i % 3 === 1 ? Number.NEGATIVE_INFINITY : 0)) : null;
  const alibiSlopes = c.alibi ? Float32Array.from({ length: c.H }, (_, h) => 2 ** -(h + 1)) : null;
  const { capacity: _c, offset: _o, padding: _p, alibi: _a, ...rest } = c;
  return {
    p: { ...rest, keyBias, alibiSlopes },
    q: values(c.B * c.H * c.Tq * c.D, seed),
    k: { data: values(c.offset + heads * kStride, seed + 1), offset: c.offset, stride: kStride },
    v: { data: values(c.offset + heads * vStride, seed + 2), offset: c.offset, stride: vStride },
  };
}

/** out [B*H, Tq, Dv] and lse [B*H, Tq] by the definition, in float64. */
function reference({ p, q, k, v }: Inputs): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(p.B * p.H * p.Tq * p.Dv);
  const lse = new Float64Array(p.B * p.H * p.Tq);
  const G = p.H / p.Hkv;
  for (let b = 0; b < p.B; b++)
    for (let h = 0; h < p.H; h++) {
      const bh = b * p.H + h;
      const kh = k.offset + (b * p.Hkv + Math.floor(h / G)) * k.stride;
      const vh = v.offset + (b * p.Hkv + Math.floor(h / G)) * v.stride;
      for (let r = 0; r < p.Tq; r++) {
        const pos = r + p.Tk - p.Tq;
        const s: number[] = [];
        for (let j = 0; j < p.Tk; j++) {
          const inBand = (!p.causal || j <= pos) && (!p.window || (j >= pos - p.window[0] && j <= pos + p.window[1]));
          let x = Number.NEGATIVE_INFINITY;
          if (inBand) {
            x = 0;
            for (let d = 0; d < p.D; d++) x += q[(bh * p.Tq + r) * p.D + d] * k.data[kh + j * p.D + d];
            x *= p.scale;
            if (p.softcap) x = p.softcap * Math.tanh(x / p.softcap);
            if (p.alibiSlopes) x -= p.alibiSlopes[h] * Math.abs(pos - j);
            if (p.keyBias) x += p.keyBias[b * p.Tk + j];
          }
          s.push(x);
        }
        const m = Math.max(...s);
        const row = bh * p.Tq + r;
        if (m === Number.NEGATIVE_INFINITY) {
          out.fill(p.zeroMaskedRows ? 0 : Number.NaN, row * p.Dv, (row + 1) * p.Dv);
          lse[row] = Number.NEGATIVE_INFINITY;
          continue;
        }
        const e = s.map((x) => Math.exp(x - m));
        const l = e.reduce((a, x) => a + x, 0);
        for (let d = 0; d < p.Dv; d++) {
          let acc = 0;
          for (let j = 0; j < p.Tk; j++) acc += e[j] * v.data[vh + j * p.Dv + d];
          out[row * p.Dv + d] = acc / l;
        }
        lse[row] = m + Math.log(l);
      }
    }
  return { out, lse };
}

function kernel(): CpuAttentionDecodeKernel {
  const k = getKernel<CpuAttentionDecodeKernel>(CPU_ATTENTION_DECODE, "cpu");
  if (!k) throw new Error("cpuAttentionDecode is not registered");
  return k;
}

function run(x: Inputs): { out: Float32Array; lse: Float32Array } {
  const out = new Float32Array(x.p.B * x.p.H * x.p.Tq * x.p.Dv);
  const lse = new Float32Array(x.p.B * x.p.H * x.p.Tq);
  kernel().decode(x.p, x.q, x.k, x.v, out, lse);
  return { out, lse };
}

/** Largest difference (NaN and infinities must match exactly); Infinity on a mismatch. */
function maxDiff(a: Float32Array, b: Float64Array, relative: boolean): number {
  let w = 0;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i]) || !Number.isFinite(a[i])) {
      if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) return Number.POSITIVE_INFINITY;
      continue;
    }
    w = Math.max(w, Math.abs(a[i] - b[i]) / (relative ? Math.max(1, Math.abs(b[i])) : 1));
  }
  return w;
}

describe.skipIf(!info.available)("native decode-step attention vs the definition", () => {
  afterAll(() => {
    configureNative({ isa: info.isa ?? undefined, threads: info.threads });
    disableNative();
  });

  for (const isa of info.isas as NativeIsa[]) {
    it(`${isa}: every case, option and thread count within 1e-5, threads bit-identical`, () => {
      try {
        enableNative({ isa, kernels: ["attention"] });
      } catch {
        expect(info.isas.indexOf(isa)).toBeLessThan(info.isas.indexOf(info.isa as NativeIsa)); // this cpu lacks it
        return;
      }
      CASES.forEach((c, n) => {
        const x = inputs(c, 10 * n + 1);
        const ref = reference(x);
        let first: Float32Array | null = null;
        for (const threads of [1, 2, 3]) {
          configureNative({ threads });
          const { out, lse } = run(x);
          const label = `${isa} case ${n} (${JSON.stringify(c)}) threads=${threads}`;
          expect(maxDiff(out, ref.out, false), `out: ${label}`).toBeLessThanOrEqual(1e-5);
          expect(maxDiff(lse, ref.lse, true), `lse: ${label}`).toBeLessThanOrEqual(1e-5);
          if (first) expect(Array.from(out), label).toEqual(Array.from(first));
          else first = out;
        }
      });
    });
  }

  it("leaves the values around the cache's rows alone and reads no row past Tk", () => {
    enableNative({ kernels: ["attention"] });
    const c = CASES[1];
    const x = inputs(c, 5);
    const before = run(x).out;
    // rows past Tk in each head's room (capacity) hold garbage: the result must not change
    for (let g = 0; g < c.B * c.Hkv; g++) {
      x.k.data.fill(Number.NaN, x.k.offset + g * x.k.stride + c.Tk * c.D, x.k.offset + (g + 1) * x.k.stride);
      x.v.data.fill(Number.NaN, x.v.offset + g * x.v.stride + c.Tk * c.Dv, x.v.offset + (g + 1) * x.v.stride);
    }
    expect(Array.from(run(x).out)).toEqual(Array.from(before));
  });

  it("the addon refuses short, overlapping or malformed arguments", () => {
    const addon = loadAddon().addon;
    if (!addon) throw new Error("unreachable: the suite runs only with the addon");
    // [B, H, Hkv, Tq, Tk, D, Dv, kOffset, kStride, vOffset, vStride, causal, window, left, right, zeroMasked, scale, cap]
    const layout = (over: Record<number, number> = {}) => {
      const l = Float64Array.of(1, 2, 1, 1, 4, 8, 8, 0, 32, 0, 32, 1, 0, 0, 0, 0, 0.5, 0);
      for (const [i, x] of Object.entries(over)) l[Number(i)] = x;
      return l;
    };
    const q = new Float32Array(16);
    const kv = new Float32Array(32);
    const out = new Float32Array(16);
    const lse = new Float32Array(2);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, layout())).not.toThrow();
    expect(() => addon.attentionDecode(q, kv, kv, new Float32Array(15), lse, null, null, layout())).toThrow(/attentionDecode: arrays too short.*out 15 \(needs 16\)/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, layout({ 7: 1 }))).toThrow(/k 32 \(needs 33\)/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, layout({ 2: 3 }))).toThrow(/H must be a multiple of Hkv/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, new Float32Array(3), null, layout())).toThrow(/kbias shorter than B\*Tk/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, new Float32Array(1), layout())).toThrow(/slopes shorter than H/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, layout({ 4: 1.5 }))).toThrow(/whole numbers in \[0, 2\^30\]/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, layout({ 16: Number.NaN }))).toThrow(/scale must be finite/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, layout({ 17: -1 }))).toThrow(/cap finite and >= 0/);
    expect(() => addon.attentionDecode(q, kv, kv, out, lse, null, null, new Float64Array(17))).toThrow(/layout must be a Float64Array of 18 numbers/);
    expect(() => addon.attentionDecode(q, kv, kv, q, lse, null, null, layout())).toThrow(/out and lse must not overlap the inputs/);
    const shared = new Float32Array(20);
    expect(() => addon.attentionDecode(q, kv, kv, shared.subarray(0, 16), shared.subarray(15, 17), null, null, layout())).toThrow(/out and lse must not overlap/);
    expect(() => addon.attentionDecode(new Int32Array(16) as unknown as Float32Array, kv, kv, out, lse, null, null, layout())).toThrow(TypeError);
  });
});

/**
 * The addon's fused attention forward ("cpuAttention") against its definition in float64
 * (csrc/attention.h: softmax of the scaled logits with softcap, ALiBi and key padding, inside the
 * causal / sliding-window band, bottom-right aligned; grouped-query heads), for every instruction
 * set this cpu runs and 1-3 threads: decode steps (the unpacked path) and blocks of many query
 * rows (packed keys), keys and values read in place from a cache with room past Tk, q and out
 * through strided rows (a fused qkv projection's columns; out as [B, Tq, H, Dv]). Bounds: out
 * within 1e-5 absolute (values in [-1, 1)), lse within 1e-5 relative; every thread count
 * bit-identical. Then its bad-input errors.
 */
import { CPU_ATTENTION, type CpuAttentionKernel, type CpuAttentionProblem, type CpuAttentionRows, getKernel } from "@tessera/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon";
import { configureNative, disableNative, enableNative, type NativeIsa } from "../src/index";
import { info, values } from "./helpers";

type Case = Omit<CpuAttentionProblem, "keyBias" | "alibiSlopes"> & { padding?: boolean; alibi?: boolean; capacity: number; offset: number; fused?: boolean };

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
  // many query rows: blocks of 32 rows over packed keys (GPT-2 prefill; ragged blocks and groups of 4)
  { ...base, B: 1, H: 12, Hkv: 12, Tq: 128, Tk: 128, D: 64, Dv: 64, fused: true },
  { ...base, B: 2, H: 4, Hkv: 2, Tq: 70, Tk: 90, D: 33, Dv: 17, fused: true, offset: 5 },
  { ...base, B: 1, H: 3, Hkv: 1, Tq: 45, Tk: 45, D: 8, Dv: 9, causal: false, window: [6, 2], softcap: 1.5, alibi: true, padding: true },
  { ...base, B: 1, H: 2, Hkv: 2, Tq: 37, Tk: 20, D: 16, Dv: 16, padding: true, zeroMaskedRows: true }, // Tq > Tk: the first rows see no key
  { ...base, B: 1, H: 2, Hkv: 1, Tq: 40, Tk: 300, D: 24, Dv: 40, window: [50, 0], capacity: 320 },
  // keys too many to pack (D x Tk > 2^20 floats): many rows through the unpacked path
  { ...base, B: 1, H: 1, Hkv: 1, Tq: 6, Tk: 1030, D: 1024, Dv: 8, scale: 0.03 },
];

interface Inputs {
  p: CpuAttentionProblem;
  q: CpuAttentionRows;
  k: CpuAttentionRows;
  v: CpuAttentionRows;
}

function inputs(c: Case, seed: number): Inputs {
  const cap = Math.max(c.capacity, c.Tk);
  const keyBias = c.padding ? Float32Array.from({ length: c.B * c.Tk }, (_, i) => (i % 3 === 1 ? Number.NEGATIVE_INFINITY : 0)) : null;
  const alibiSlopes = c.alibi ? Float32Array.from({ length: c.H }, (_, h) => 2 ** -(h + 1)) : null;
  const { capacity: _c, offset: _o, padding: _p, alibi: _a, fused: _f, ...rest } = c;
  // q read as heads of a fused [B, Tq, 3, H, D] projection (row stride 3 H D), else dense [B, H, Tq, D]
  const q: CpuAttentionRows = c.fused
    ? { data: values(c.offset + c.B * c.Tq * 3 * c.H * c.D, seed), offset: c.offset + c.D, strides: [c.Tq * 3 * c.H * c.D, c.D, 3 * c.H * c.D] }
    : { data: values(c.B * c.H * c.Tq * c.D, seed), offset: 0, strides: [c.H * c.Tq * c.D, c.Tq * c.D, c.D] };
  const kv = (width: number, s: number): CpuAttentionRows => ({
    data: values(c.offset + c.B * c.Hkv * cap * width, s),
    offset: c.offset,
    strides: [c.Hkv * cap * width, cap * width, width],
  });
  return { p: { ...rest, keyBias, alibiSlopes }, q, k: kv(c.D, seed + 1), v: kv(c.Dv, seed + 2) };
}

const at = (x: CpuAttentionRows, b: number, h: number, r: number) => x.offset + b * x.strides[0] + h * x.strides[1] + r * x.strides[2];

/** out [B*H, Tq, Dv] and lse [B*H, Tq] by the definition, in float64. */
function reference({ p, q, k, v }: Inputs): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(p.B * p.H * p.Tq * p.Dv);
  const lse = new Float64Array(p.B * p.H * p.Tq);
  const G = p.H / p.Hkv;
  for (let b = 0; b < p.B; b++)
    for (let h = 0; h < p.H; h++) {
      const g = Math.floor(h / G);
      for (let r = 0; r < p.Tq; r++) {
        const pos = r + p.Tk - p.Tq;
        const s: number[] = [];
        for (let j = 0; j < p.Tk; j++) {
          const inBand = (!p.causal || j <= pos) && (!p.window || (j >= pos - p.window[0] && j <= pos + p.window[1]));
          let x = Number.NEGATIVE_INFINITY;
          if (inBand) {
            x = 0;
            for (let d = 0; d < p.D; d++) x += q.data[at(q, b, h, r) + d] * k.data[at(k, b, g, j) + d];
            x *= p.scale;
            if (p.softcap) x = p.softcap * Math.tanh(x / p.softcap);
            if (p.alibiSlopes) x -= p.alibiSlopes[h] * Math.abs(pos - j);
            if (p.keyBias) x += p.keyBias[b * p.Tk + j];
          }
          s.push(x);
        }
        const m = Math.max(...s);
        const row = (b * p.H + h) * p.Tq + r;
        if (m === Number.NEGATIVE_INFINITY) {
          out.fill(p.zeroMaskedRows ? 0 : Number.NaN, row * p.Dv, (row + 1) * p.Dv);
          lse[row] = Number.NEGATIVE_INFINITY;
          continue;
        }
        const e = s.map((x) => Math.exp(x - m));
        const l = e.reduce((a, x) => a + x, 0);
        for (let d = 0; d < p.Dv; d++) {
          let acc = 0;
          for (let j = 0; j < p.Tk; j++) if (e[j] > 0) acc += e[j] * v.data[at(v, b, g, j) + d];
          out[row * p.Dv + d] = acc / l;
        }
        lse[row] = m + Math.log(l);
      }
    }
  return { out, lse };
}

function kernel(): CpuAttentionKernel {
  const k = getKernel<CpuAttentionKernel>(CPU_ATTENTION, "cpu");
  if (!k) throw new Error("cpuAttention is not registered");
  return k;
}

/** out written as [B, Tq, H, Dv] (the layout the fused cpu path asks for), read back as [B*H, Tq, Dv]; lse. */
function run(x: Inputs): { out: Float32Array; lse: Float32Array } {
  const { B, H, Tq, Dv } = x.p;
  const data = new Float32Array(B * Tq * H * Dv);
  const lse = new Float32Array(B * H * Tq);
  const o: CpuAttentionRows = { data, offset: 0, strides: [Tq * H * Dv, Dv, H * Dv] };
  expect(kernel().forward(x.p, x.q, x.k, x.v, o, lse)).toBe(true);
  const out = new Float32Array(B * H * Tq * Dv);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let r = 0; r < Tq; r++) out.set(data.subarray(at(o, b, h, r), at(o, b, h, r) + Dv), ((b * H + h) * Tq + r) * Dv);
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

describe.skipIf(!info.available)("native attention forward vs the definition", () => {
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
      x.k.data.fill(Number.NaN, x.k.offset + g * x.k.strides[1] + c.Tk * c.D, x.k.offset + (g + 1) * x.k.strides[1]);
      x.v.data.fill(Number.NaN, x.v.offset + g * x.v.strides[1] + c.Tk * c.Dv, x.v.offset + (g + 1) * x.v.strides[1]);
    }
    expect(Array.from(run(x).out)).toEqual(Array.from(before));
  });

  it("takes fractional window sides as the WebAssembly kernel (truncated) and a negative softcap as its magnitude; declines what it cannot run", () => {
    enableNative({ kernels: ["attention"] });
    const c = CASES[3]; // window [17, 0], softcap 2.5
    const same = (a: Partial<Case>, b: Partial<Case>) => expect(Array.from(run(inputs({ ...c, ...a }, 9)).out)).toEqual(Array.from(run(inputs({ ...c, ...b }, 9)).out));
    same({ window: [17.9, 0.5] }, { window: [17, 0] });
    same({ softcap: -2.5 }, { softcap: 2.5 });
    const x = inputs(c, 9);
    const out = new Float32Array(c.B * c.H * c.Tq * c.Dv).fill(7);
    const o: CpuAttentionRows = { data: out, offset: 0, strides: [c.Tq * c.H * c.Dv, c.Dv, c.H * c.Dv] };
    const lse = new Float32Array(c.B * c.H * c.Tq);
    expect(kernel().forward({ ...x.p, scale: Number.NaN }, x.q, x.k, x.v, o, lse)).toBe(false);
    expect(kernel().forward({ ...x.p, softcap: Number.POSITIVE_INFINITY }, x.q, x.k, x.v, o, lse)).toBe(false);
    expect(kernel().forward(x.p, x.q, { ...x.k, strides: [2 ** 31, x.k.strides[1], x.k.strides[2]] }, x.v, o, lse)).toBe(false);
    expect(out.every((v) => v === 7)).toBe(true); // declined: nothing written
  });

  it("the addon refuses short, overlapping or malformed arguments", () => {
    const addon = loadAddon().addon;
    if (!addon) throw new Error("unreachable: the suite runs only with the addon");
    // [B, H, Hkv, Tq, Tk, D, Dv, q / k / v / out: offset, batch, head and row strides, causal, window, left, right, zeroMasked, scale, cap]
    const layout = (over: Record<number, number> = {}) => {
      const l = Float64Array.of(1, 2, 1, 1, 4, 8, 8, 0, 16, 8, 8, 0, 32, 32, 8, 0, 32, 32, 8, 0, 16, 8, 8, 1, 0, 0, 0, 0, 0.5, 0);
      for (const [i, x] of Object.entries(over)) l[Number(i)] = x;
      return l;
    };
    const q = new Float32Array(16);
    const kv = new Float32Array(32);
    const out = new Float32Array(16);
    const lse = new Float32Array(2);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout())).not.toThrow();
    expect(() => addon.attention(q, kv, kv, new Float32Array(15), lse, null, null, layout())).toThrow(/attention: arrays too short.*out 15 \(needs 16\)/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 11: 1 }))).toThrow(/k 32 \(needs 33\)/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 9: 9 }))).toThrow(/q 16 \(needs 17\)/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 2: 3 }))).toThrow(/H must be a multiple of Hkv/);
    expect(() => addon.attention(q, kv, kv, out, lse, new Float32Array(3), null, layout())).toThrow(/kbias shorter than B\*Tk/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, new Float32Array(1), layout())).toThrow(/slopes shorter than H/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 4: 1.5 }))).toThrow(/whole numbers in \[0, 2\^30\]/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 12: -1 }))).toThrow(/whole numbers in \[0, 2\^30\]/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 28: Number.NaN }))).toThrow(/scale must be finite/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, layout({ 29: -1 }))).toThrow(/cap finite and >= 0/);
    expect(() => addon.attention(q, kv, kv, out, lse, null, null, new Float64Array(18))).toThrow(/layout must be a Float64Array of 30 numbers/);
    // B * H * Tq wraps past 2^64 to 4: refused before anything is read or written
    const wrap = layout({ 0: 494770, 1: 48448661, 2: 48448661, 3: 769546, 4: 0, 5: 0, 6: 0 });
    expect(() => addon.attention(new Float32Array(0), new Float32Array(0), new Float32Array(0), new Float32Array(0), new Float32Array(4), null, null, wrap)).toThrow(
      /B \* H \* Tq must be at most 2\^30/,
    );
    expect(() => addon.attention(q, kv, kv, q, lse, null, null, layout())).toThrow(/out and lse must not overlap the inputs/);
    const shared = new Float32Array(20);
    expect(() => addon.attention(q, kv, kv, shared.subarray(0, 16), shared.subarray(15, 17), null, null, layout())).toThrow(/out and lse must not overlap/);
    expect(() => addon.attention(new Int32Array(16) as unknown as Float32Array, kv, kv, out, lse, null, null, layout())).toThrow(TypeError);
  });
});

/**
 * Formats against outside references: PyTorch's int8 row-wise absmax and asymmetric int4
 * groups of 8 (fixtures/ops: codes equal, scales within 1e-7 relative), bitsandbytes'
 * NF4/FP4 error on N(0, 1) data (test_4bit_quant: 0.072798 / 0.096543 at block 64, within 2%),
 * the fp8 encodings' known values, and exact round trips through pack/unpack and safetensors.
 */
import { describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { parseSafetensors, writeSafetensors } from "@tessera/tensor";
import * as Q from "../src/index";
import { opsFixture } from "./helpers";

const relClose = (a: ArrayLike<number>, b: ArrayLike<number>, rel: number) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `at ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(rel * Math.abs(b[i]));
};

describe("PyTorch conformance (ops.safetensors)", () => {
  it("int8 absmax row-wise: codes equal, scales within 1e-7 relative (with the outlier row)", () => {
    const f = opsFixture();
    const q = Q.quantize(f.W, { type: "int", bits: 8, symmetric: true, granularity: { kind: "channel", axis: 0 } });
    expect(Array.from(q.codes())).toEqual(Array.from(f.int8_absmax_rowwise_q.dataSync()));
    relClose(q.scales!, f.int8_absmax_rowwise_scale.dataSync(), 1e-7);
    expect(q.scaleShape).toEqual([24]);
    expect(q.data.length).toBe(24 * 40); // one byte per code
  });

  it("int4 asymmetric, groups of 8 along rows: codes, scales, zero points and dequantized values", () => {
    const f = opsFixture();
    const q = Q.quantize(f.W, { type: "int", bits: 4, symmetric: false, granularity: { kind: "group", size: 8 } });
    expect(Array.from(q.codes())).toEqual(Array.from(f.int4_g8_q.dataSync()));
    relClose(q.scales!, f.int4_g8_scale.dataSync(), 1e-7);
    expect(Array.from(q.zeros!)).toEqual(Array.from(f.int4_g8_zero.dataSync()));
    expect(q.scaleShape).toEqual([24, 5]);
    relClose(q.values(), f.int4_g8_dequant.dataSync(), 1e-6);
    expect(q.data.length).toBe((24 * 40) / 2); // two codes per byte
  });
});

describe("bitsandbytes 4-bit types", () => {
  const x = T.normal([1024, 1024], 0, 1, { seed: 0 });
  const mae = (q: Q.QuantizedTensor) => {
    const a = x.dataSync();
    const b = q.values();
    let s = 0;
    for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
    return s / a.length;
  };

  it("NF4 block 64 on N(0,1): mean abs error within 2% of bitsandbytes' 0.072798; FP4 of 0.096543", () => {
    const nf4 = mae(Q.quantize(x, { type: "nf4", blockSize: 64, doubleQuant: false }));
    const fp4 = mae(Q.quantize(x, { type: "fp4", blockSize: 64, doubleQuant: false }));
    console.log(`NF4 block 64 MAE ${nf4.toFixed(6)} (bitsandbytes 0.072798); FP4 ${fp4.toFixed(6)} (0.096543)`);
    expect(Math.abs(nf4 / 0.072798 - 1)).toBeLessThan(0.02);
    expect(Math.abs(fp4 / 0.096543 - 1)).toBeLessThan(0.02);
    const nf4b128 = mae(Q.quantize(x, { type: "nf4", blockSize: 128, doubleQuant: false }));
    expect(Math.abs(nf4b128 / 0.076831 - 1)).toBeLessThan(0.02);
  });

  it("double quantization: 8-bit scales cost little error and save 3.5 bits per block", () => {
    const plain = Q.quantize(x, { type: "nf4", blockSize: 64, doubleQuant: false });
    const dq = Q.quantize(x, { type: "nf4", blockSize: 64, doubleQuant: true });
    expect(plain.bitsPerElement).toBeCloseTo(4 + 32 / 64, 6);
    expect(dq.bitsPerElement).toBeLessThan(4 + 9 / 64); // 8-bit codes + a float per 256 blocks
    expect(mae(dq) / mae(plain)).toBeLessThan(1.01);
    const s = dq.blockScales();
    const ref = plain.scales!;
    for (let i = 0; i < s.length; i += 97) expect(Math.abs(s[i] - ref[i])).toBeLessThan(0.01 * ref[i]);
  });

  it("the tables: NF4 is sorted with an exact 0 and +-1; FP4 in bitsandbytes order; the dynamic map has 256 sorted values in [-1, 1]", () => {
    expect(Q.NF4_CODE[7]).toBe(0);
    expect([Q.NF4_CODE[0], Q.NF4_CODE[15]]).toEqual([-1, 1]);
    for (let i = 1; i < 16; i++) expect(Q.NF4_CODE[i]).toBeGreaterThan(Q.NF4_CODE[i - 1]);
    expect(Array.from(Q.FP4_CODE.slice(0, 8)).map((v) => Math.round(v * 192))).toEqual([0, 1, 128, 192, 64, 96, 32, 48]);
    const d = Q.dynamicMap();
    expect(d.length).toBe(256);
    expect([d[0], d[255]]).toEqual([-Math.fround(0.9955), 1].map((v, i) => (i ? v : d[0])));
    for (let i = 1; i < 256; i++) expect(d[i]).toBeGreaterThanOrEqual(d[i - 1]);
    expect(d.includes(0)).toBe(true);
  });
});

describe("fp8", () => {
  it("known values: max normal, subnormals, NaN and infinities, round to nearest even, saturation", () => {
    expect(Q.fp8Decode(0x7e, "e4m3")).toBe(448);
    expect(Number.isNaN(Q.fp8Decode(0x7f, "e4m3"))).toBe(true);
    expect(Q.fp8Decode(0x01, "e4m3")).toBe(2 ** -9);
    expect(Q.fp8Decode(0x08, "e4m3")).toBe(2 ** -6);
    expect(Q.fp8Decode(0x7b, "e5m2")).toBe(57344);
    expect(Q.fp8Decode(0x7c, "e5m2")).toBe(Infinity);
    expect(Q.fp8Decode(0x01, "e5m2")).toBe(2 ** -16);
    expect(Q.fp8Decode(0xc0, "e4m3")).toBe(-2);
    // 1.0625 lies halfway between 1 (mantissa 000) and 1.125 (001): ties to even -> 1.
    expect(Q.fp8Decode(Q.fp8Encode(1.0625, "e4m3"), "e4m3")).toBe(1);
    expect(Q.fp8Decode(Q.fp8Encode(1.1875, "e4m3"), "e4m3")).toBe(1.25);
    expect(Q.fp8Decode(Q.fp8Encode(1000, "e4m3"), "e4m3")).toBe(448);
    expect(Number.isNaN(Q.fp8Decode(Q.fp8Encode(1000, "e4m3", false), "e4m3"))).toBe(true);
    expect(Q.fp8Decode(Q.fp8Encode(1e6, "e5m2", false), "e5m2")).toBe(Infinity);
    // Every finite code decodes and re-encodes to itself.
    for (const v of ["e4m3", "e5m2"] as const) {
      for (let c = 0; c < 256; c++) {
        const x = Q.fp8Decode(c, v);
        if (Number.isFinite(x) && !(x === 0 && c & 0x80)) expect(Q.fp8Encode(x, v), `${v} ${c}`).toBe(c);
      }
    }
  });

  it("fp8 quantization with per-channel scales keeps the relative error within half a mantissa step", () => {
    const x = T.mul(T.normal([16, 64], 0, 1, { seed: 2 }), T.reshape(T.arange(1, 17), [16, 1]));
    for (const [variant, man] of [
      ["e4m3", 3],
      ["e5m2", 2],
    ] as const) {
      const q = Q.quantize(x, { type: "fp8", variant, granularity: { kind: "channel", axis: 0 } });
      const a = x.dataSync();
      const b = q.values();
      const s = q.scales!;
      for (let i = 0; i < a.length; i++) {
        const tol = Math.max(Math.abs(a[i]) * 2 ** -(man + 1), s[Math.floor(i / 64)] * 2 ** -9) * 1.0001;
        expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol);
      }
    }
  });
});

describe("round trips", () => {
  const formats: Q.QuantFormat[] = [
    { type: "int", bits: 8, symmetric: true, granularity: { kind: "tensor" } },
    { type: "int", bits: 8, symmetric: false, granularity: { kind: "channel", axis: 1 } },
    { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 4 } },
    { type: "int", bits: 3, symmetric: true, granularity: { kind: "group", size: 6, axis: 0 } },
    { type: "int", bits: 3, symmetric: false, granularity: { kind: "channel", axis: 0 } },
    { type: "int", bits: 2, symmetric: false, granularity: { kind: "group", size: 12 } },
    { type: "ternary", granularity: { kind: "channel", axis: 0 } },
    { type: "nf4", blockSize: 32, doubleQuant: false },
    { type: "fp4", blockSize: 64, doubleQuant: true },
    { type: "fp8", variant: "e4m3", granularity: { kind: "tensor" } },
    { type: "fp8", variant: "e5m2", granularity: { kind: "group", size: 6 } },
  ];
  const x = T.normal([6, 12], 0, 1, { seed: 5 });

  for (const f of formats) {
    it(`${Q.describe(f)}: codes survive pack/unpack and safetensors bit for bit; requantizing the values is stable`, () => {
      const q = Q.quantize(x, f);
      const codes = q.codes();
      const bits = Q.codeBits(f);
      const stored = Q.unpack(q.data, q.size, bits);
      expect(Array.from(Q.unpack(Q.pack(stored, bits), q.size, bits))).toEqual(Array.from(stored));
      const { entries, metadata } = Q.quantizedEntries("w", q);
      const file = parseSafetensors(writeSafetensors(entries, metadata));
      expect(Q.quantizedNames(file.metadata)).toEqual(["w"]);
      const back = Q.readQuantized("w", file.entries, file.metadata);
      expect(Array.from(back.codes())).toEqual(Array.from(codes));
      expect(Array.from(back.values())).toEqual(Array.from(q.values()));
      expect(back.format).toEqual(f);
      // Dequantized values are fixed points of absmax quantizers (ternary's absmean scale and
      // double-quantized scales move when requantized).
      const absmax = (f.type === "int" && f.symmetric) || f.type === "fp8" || ((f.type === "nf4" || f.type === "fp4") && !f.doubleQuant);
      if (absmax) {
        const again = Q.quantizeValues(q.values(), q.shape, f);
        const v1 = q.values();
        const v2 = again.values();
        for (let i = 0; i < v1.length; i++) expect(Math.abs(v2[i] - v1[i])).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(v1[i])));
      }
    });
  }

  it("bit packing: 4-bit puts element 0 in the high nibble (bitsandbytes), 3-bit packs 8 codes in 3 bytes", () => {
    expect(Array.from(Q.pack([1, 2, 3], 4))).toEqual([0x12, 0x30]);
    expect(Array.from(Q.pack([1, 2, 3, 0], 2))).toEqual([0b01101100]);
    expect(Q.pack([7, 7, 7, 7, 7, 7, 7, 7], 3)).toEqual(new Uint8Array([255, 255, 255]));
    expect(Array.from(Q.unpack(Q.pack([5, 0, 3, 6, 1, 2, 7, 4, 5], 3), 9, 3))).toEqual([5, 0, 3, 6, 1, 2, 7, 4, 5]);
  });

  it("half-to-even rounding as torch.round", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(Q.roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});

describe("errors", () => {
  it("bad formats, shapes and files are named", () => {
    const x = T.normal([4, 6], 0, 1, { seed: 1 });
    expect(() => Q.quantize(x, { type: "int", bits: 5 as 4, symmetric: true, granularity: { kind: "tensor" } })).toThrow(/int bits must be 2, 3, 4 or 8, got 5/);
    expect(() => Q.quantize(x, { type: "int", bits: 4, symmetric: true, granularity: { kind: "group", size: 4 } })).toThrow(/group size 4 must divide axis 1 of shape \[4,6\]/);
    expect(() => Q.quantize(x, { type: "int", bits: 4, symmetric: true, granularity: { kind: "channel", axis: 2 } })).toThrow(/axis 2 is out of range for shape \[4,6\]/);
    expect(() => Q.quantize(T.tensor([1, NaN]), { type: "nf4", blockSize: 64, doubleQuant: false })).toThrow(/non-finite value \(NaN\) at flat index 1/);
    expect(() => Q.quantize(T.tensor([1, 2], { dtype: "int32" }), { type: "nf4", blockSize: 64, doubleQuant: false })).toThrow(/x must be a float tensor, got int32/);
    expect(() => Q.pack([16], 4)).toThrow(/code 16 at 0 does not fit in 4 unsigned bits/);
    const q = Q.quantize(x, { type: "int", bits: 4, symmetric: false, granularity: { kind: "group", size: 3 } });
    const { entries, metadata } = Q.quantizedEntries("w", q);
    const broken = { ...entries, "w.qcodes": { ...entries["w.qcodes"], shape: [3], data: entries["w.qcodes"].data.slice(0, 3) } };
    const f1 = parseSafetensors(writeSafetensors(broken, metadata));
    expect(() => Q.readQuantized("w", f1.entries, f1.metadata)).toThrow(/'w.qcodes' has 3 bytes; \[4,6\] at 4 bits needs 12/);
    const noZeros = { ...entries };
    delete noZeros["w.qzeros"];
    const f2 = parseSafetensors(writeSafetensors(noZeros, metadata));
    expect(() => Q.readQuantized("w", f2.entries, f2.metadata)).toThrow(/missing entry 'w.qzeros'/);
    expect(() => Q.readQuantized("v", f2.entries, f2.metadata)).toThrow(/metadata has no 'tessera.quant.v'/);
  });
});

/** Bad input: clear errors naming the op and the argument, checked before anything runs. */
import { TesseraError } from "@tessera/tensor";
import { describe, expect, it } from "vitest";
import { loadAddon } from "../src/addon";
import { configureNative, enableNative, nativeMatmul } from "../src/index";
import { info } from "./helpers";

describe.skipIf(!info.available)("native errors", () => {
  it("nativeMatmul checks sizes, types and dimensions", () => {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    expect(() => nativeMatmul(a, b, 2, 2, 4)).toThrow(/nativeMatmul.*a has 6 values; \[M, K\] = \[2, 4\] needs 8/);
    expect(() => nativeMatmul(a, b, 2, 4, 3)).toThrow(/b has 6 values; \[K, N\] = \[3, 4\] needs 12/);
    expect(() => nativeMatmul(a, b, 2, 4, 3, { transB: true })).toThrow(/\[N, K\] = \[4, 3\]/);
    expect(() => nativeMatmul(a, b, 2, 2, 3, { bias: new Float32Array(1) })).toThrow(/bias has 1 values; N = 2 needs 2/);
    expect(() => nativeMatmul(a, b, 2, 2, 3, { transB: "yes" as unknown as boolean })).toThrow(/nativeMatmul: transB must be a boolean, got string/);
    const shared = new Float32Array(20);
    expect(() => nativeMatmul(shared.subarray(0, 6), b, 2, 2, 3, { out: shared.subarray(4, 8) })).toThrow(/nativeMatmul: out must not overlap a/);
    expect(() => nativeMatmul(a, b, 2, 2, 3, { out: shared.subarray(0, 4) })).not.toThrow();
    expect(() => nativeMatmul(a, b, 2, 2, 3, { out: new Float32Array(3) })).toThrow(/out has 3 values; \[M, N\] = \[2, 2\] needs 4/);
    expect(() => nativeMatmul(a, b, 1.5, 2, 2)).toThrow(/M must be a whole number/);
    expect(() => nativeMatmul(a, b, -1, 2, 2)).toThrow(/M must be a whole number/);
    expect(() => nativeMatmul(new Float64Array(6) as unknown as Float32Array, b, 2, 3, 2)).toThrow(/a must be a Float32Array, got \[object Float64Array\]/);
    expect(() => nativeMatmul(a, b, 2, 3, 2)).not.toThrow();
    try {
      nativeMatmul(a, b, 2, 2, 4);
    } catch (e) {
      expect(e).toBeInstanceOf(TesseraError);
    }
  });

  it("the addon itself refuses short, overlapping or mistyped arrays (nothing read or written past them)", () => {
    const addon = loadAddon().addon;
    if (!addon) throw new Error("unreachable: the suite runs only with the addon");
    const buf = new Float32Array(32);
    expect(() => addon.matmul(buf.subarray(0, 4), buf.subarray(4, 8), new Float32Array(3), 2, 2, 2, false, null)).toThrow(RangeError);
    expect(() => addon.matmul(buf.subarray(0, 4), buf.subarray(4, 8), new Float32Array(3), 2, 2, 2, false, null)).toThrow(/c 3 \(needs 4\)/);
    expect(() => addon.matmul(buf.subarray(0, 4), buf.subarray(4, 8), buf.subarray(2, 6), 2, 2, 2, false, null)).toThrow(/must not overlap/);
    expect(() => addon.matmul(buf.subarray(0, 4), buf.subarray(4, 8), buf.subarray(8, 12), 2, 2, 2, false, buf.subarray(9, 11))).toThrow(/must not overlap/);
    expect(() => addon.matmul(new Int32Array(4) as unknown as Float32Array, buf, buf, 2, 2, 2, false, null)).toThrow(TypeError);
    expect(() => addon.matmul(buf, buf, buf, 2, 2, 2.5, false, null)).toThrow(/whole numbers/);
    expect(() => addon.matmul(buf, buf, buf, 2, 2, 2, 1 as unknown as boolean, null)).toThrow(/transB must be a boolean/);
    expect(() => (addon.matmul as unknown as (...a: unknown[]) => void)(buf, buf)).toThrow(/expected \(a, b, c, M, N, K, transB, bias\)/);
    expect(() => addon.setThreads(0)).toThrow(/setThreads/);
    // dims near 2^31 would overflow the kernels' int row/column steps: refused before any read
    expect(() => addon.matmul(buf, buf, buf, 2 ** 30 + 1, 0, 0, false, null)).toThrow(/at most 2\^30/);
  });

  it("configureNative and enableNative check their options, and a refused call changes nothing", () => {
    expect(() => configureNative({ threads: 0 })).toThrow(/configureNative.*threads must be a whole number in \[1, 64\], got 0/);
    expect(() => enableNative({ threads: 65 })).toThrow(/enableNative: threads must be a whole number/);
    expect(() => configureNative({ isa: "sse9" as never })).toThrow(/isa 'sse9' is not usable here: compiled for avx512|isa 'sse9' is not usable here: compiled for generic/);
    const before = configureNative({ threads: 2 });
    expect(() => configureNative({ threads: 1, isa: "neon" as never })).toThrow(/not usable/);
    expect(() => enableNative({ threads: 1, isa: "neon" as never })).toThrow(/enableNative: isa 'neon'/);
    const after = configureNative();
    expect([after.threads, after.isa]).toEqual([before.threads, before.isa]);
  });
});

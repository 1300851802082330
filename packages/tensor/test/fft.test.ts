/**
 * FFTs against numpy.fft (test/fixtures/gen_refs.py), for power-of-two lengths (radix-2) and
 * others (Bluestein), plus round trips, finite-difference gradients and bad input.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { assertClose, checkGrad } from "../src/testing/index";
import { ref } from "./helpers";

describe("fft / ifft / rfft / irfft against numpy.fft", () => {
  for (const n of [16, 12, 7, 1]) {
    it(`length ${n}`, async () => {
      const tol = { atol: 2e-5 * Math.max(1, n), rtol: 1e-5 };
      await assertClose(T.rfft(ref(`fft.x${n}`)), ref(`fft.rfft${n}`), { ...tol, label: "rfft" });
      await assertClose(T.fft(ref(`fft.c${n}`)), ref(`fft.fft${n}`), { ...tol, label: "fft" });
      await assertClose(T.ifft(ref(`fft.c${n}`)), ref(`fft.ifft${n}`), { ...tol, label: "ifft" });
      await assertClose(T.irfft(ref(`fft.h${n}`), n), ref(`fft.irfft${n}`), { ...tol, label: "irfft" });
    });
  }

  it("n pads or truncates; ortho scaling; fftConv equals numpy.convolve", async () => {
    const x = ref("fft.xpad");
    await assertClose(T.rfft(x, 16), ref("fft.rfft_n16"), { atol: 5e-5, rtol: 1e-5 });
    await assertClose(T.rfft(x, 6, { norm: "ortho" }), ref("fft.rfft_n6_ortho"), { atol: 5e-5, rtol: 1e-5 });
    await assertClose(T.fftConv(x, ref("fft.k")), ref("fft.conv"), { atol: 5e-5, rtol: 1e-5 });
  });

  it("round trips: ifft(fft(x)) = x and irfft(rfft(x), n) = x, long and odd lengths", async () => {
    for (const n of [1024, 1000, 33]) {
      const x = T.normal([2, n], 0, 1, { seed: n });
      await assertClose(T.irfft(T.rfft(x), n), x, { atol: 2e-5, rtol: 0, label: `rfft ${n}` });
      const c = T.normal([2, n, 2], 0, 1, { seed: n + 1 });
      await assertClose(T.ifft(T.fft(c)), c, { atol: 2e-5, rtol: 0, label: `fft ${n}` });
      await assertClose(T.ifft(T.fft(c, { norm: "forward" }), { norm: "forward" }), c, { atol: 2e-5, rtol: 0 });
    }
  });

  it("gradients match finite differences (radix-2 and Bluestein)", async () => {
    const w8 = T.normal([2, 5, 2], 0, 1, { seed: 3 }); // weights for a real scalar loss
    for (const n of [8, 6]) {
      const x = T.normal([2, n], 0, 1, { seed: n });
      const w = T.narrow(T.normal([2, n, 2], 0, 1, { seed: 9 }), 1, 0, Math.floor(n / 2) + 1);
      await checkGrad((a) => T.sum(T.mul(T.rfft(a), w)), [x]);
      await checkGrad((a) => T.sum(T.mul(T.irfft(a, n), T.narrow(x, 0, 0, 1))), [T.normal([1, Math.floor(n / 2) + 1, 2], 0, 1, { seed: 4 })]);
      await checkGrad((a, k) => T.sum(T.square(T.fftConv(a, k))), [x, T.normal([2, 3], 0, 1, { seed: 5 })]);
    }
    await checkGrad((a) => T.sum(T.mul(T.fft(a), w8)), [T.normal([2, 5, 2], 0, 1, { seed: 6 })]);
  });

  it("complex() and complexParts() build and split the trailing axis", async () => {
    const c = T.complex(T.tensor([1, 2]), T.tensor([3]));
    expect(c.shape).toEqual([2, 2]);
    expect(Array.from(T.complexParts(c).im.dataSync())).toEqual([3, 3]);
  });

  it("bad input names the op and the shapes", () => {
    expect(() => T.fft(T.zeros([4, 3]))).toThrow(/fft: x \[4,3\] must be complex/);
    expect(() => T.rfft(T.zeros([4], { dtype: "int32" }))).toThrow(/rfft/);
    expect(() => T.irfft(T.zeros([3, 2]), 0)).toThrow(/irfft: n must be a positive integer/);
    expect(() => T.fftConv(T.zeros([3]), T.zeros([5]))).toThrow(/fftConv: .*kernel must not be longer/);
    expect(() => T.fft(T.zeros([4, 2]), { norm: "bogus" as never })).toThrow(/norm must be/);
  });
});

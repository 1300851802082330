/**
 * The cpu backend's fused WebAssembly SIMD flash attention (src/flash-wasm/) behind the tiled
 * path: against PyTorch's forward and gradients (fixtures/ops/attention.safetensors, float64
 * autograd) and against the composed reference (TypeScript loops, the 'reference' preference)
 * for every option, ragged sizes, head dims 32/64/80/128, GQA 8:2 and batch > 1, on one thread
 * and on the worker pool; memory linear in T; the fallbacks and errors. The same bounds hold for
 * the SIMD128 build and the relaxed-SIMD build, and for both forward kernels: flash_fwd (blocked)
 * and flash_decode (Tq <= DECODE_MAX_TQ, decode steps; its cases check which one ran) — for
 * the SIMD128 build and the relaxed-SIMD build (fused multiply-add: other rounding); this file
 * runs with the one the runtime has, and again under --experimental-wasm-relaxed-simd
 * (flash-wasm-relaxed.test.ts).
 */
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import { assertClose } from "@tessera/tensor/testing";
import { wasmFeatures } from "@tessera/tensor/wasm";
import { alibiSlopes, FUSED_ATTENTION, scaledDotProductAttention as sdpa, type AttentionOptions } from "../src/index";
import { DECODE_MAX_TQ, flashWasm, initAttentionThreads } from "../src/flash-wasm/runtime";
import { attentionFixture } from "./helpers";

const rn = (shape: number[], seed: number) => T.normal(shape, 0, 1, { seed });
const fusedRuns = () => T.kernelStats().kernel[`${FUSED_ATTENTION}/cpu`] ?? 0;
/** The kernel the WASM attention's last forward ran ('flash' or 'decode'). */
const lastForward = () => flashWasm()!.lastForward;

/** out and [dq, dk, dv] of sum(out * dout) through the tiled path (the fused kernel on cpu). */
function forwardAndGrads(q: T.Tensor, k: T.Tensor, v: T.Tensor, dout: T.Tensor, o: AttentionOptions): [T.Tensor, T.Tensor[]] {
  const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(T.mul(sdpa(a, b, c, { ...o, implementation: "tiled" }), dout));
  return [sdpa(q, k, v, { ...o, implementation: "tiled" }), T.grad(f)(q, k, v)];
}

/**
 * The same through the composed reference on plain TypeScript loops (no kernel, no WASM). Rows
 * without any key: the composed forms propagate their NaN into the gradients; the fused kernel
 * gives them gradient 0 (FlashAttention's convention), which is the composed tiled form's with
 * maskedRows 'zero' (`gradsFrom: "tiled"`).
 */
function referenceForwardAndGrads(q: T.Tensor, k: T.Tensor, v: T.Tensor, dout: T.Tensor, o: AttentionOptions, gradsFrom: "reference" | "tiled"): [T.Tensor, T.Tensor[]] {
  return T.withKernelPreference("reference", () => {
    const go: AttentionOptions = gradsFrom === "tiled" ? { ...o, maskedRows: "zero", implementation: "tiled" } : { ...o, implementation: "reference" };
    const f = (a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(T.mul(sdpa(a, b, c, go), dout));
    return [sdpa(q, k, v, { ...o, implementation: "reference" }), T.grad(f)(q, k, v)];
  });
}

afterAll(async () => {
  await initAttentionThreads(); // back to the default for the other files
});

describe("fused WASM flash attention: the kernel is there and runs", () => {
  it("loads its relaxed-SIMD build exactly where wasmFeatures().relaxedSimd, else the SIMD128 build", () => {
    // flash-wasm-relaxed.test.ts reruns this file under --experimental-wasm-relaxed-simd with TESSERA_EXPECT_RELAXED_SIMD=1
    const expected = process.env.TESSERA_EXPECT_RELAXED_SIMD;
    if (expected !== undefined) expect(wasmFeatures().relaxedSimd).toBe(expected === "1");
    expect(flashWasm()!.relaxed).toBe(wasmFeatures().relaxedSimd);
  });

  it("loads here (Node has WebAssembly SIMD) and the tiled path uses it on cpu", () => {
    expect(flashWasm()).not.toBeNull();
    T.resetKernelStats();
    sdpa(rn([1, 2, 5, 8], 1), rn([1, 2, 5, 8], 2), rn([1, 2, 5, 8], 3), { causal: true, implementation: "tiled" });
    expect(fusedRuns()).toBe(1);
  });
});

describe("fused WASM flash attention: the backward keeps what it needs", () => {
  it("q, k, v made and disposed inside the loss (head-split views) still get their gradients", async () => {
    const x = rn([1, 4, 9, 8], 21);
    const y = rn([1, 2, 9, 8], 22);
    const lossOf = (dispose: boolean) => (xx: T.Tensor, yy: T.Tensor) => {
      const q = T.mul(xx, 0.5);
      const k = T.add(yy, 0.25);
      const v = T.mul(yy, -1);
      const out = sdpa(q, k, v, { causal: true, implementation: "tiled" });
      if (dispose) T.dispose([q, k, v]); // as a module that frees its intermediates does
      return T.sum(T.mul(out, out));
    };
    T.resetKernelStats();
    const kept = T.grad(lossOf(false))(x, y);
    const freed = T.grad(lossOf(true))(x, y);
    expect(fusedRuns()).toBeGreaterThanOrEqual(2);
    await assertClose(freed[0], kept[0], { atol: 0, rtol: 0 });
    await assertClose(freed[1], kept[1], { atol: 0, rtol: 0 });
    T.dispose([x, y, ...kept, ...freed]);
  });
});

/**
 * Fixture case `name`'s forward and dq, dk, dv against PyTorch's float64 autograd (2e-5 max abs);
 * the fused kernel ran twice (the forward alone, then inside grad), the last forward through
 * `kernel` when given.
 */
async function expectFixture(name: string, opts: (f: Record<string, T.Tensor>) => AttentionOptions, kernel?: "decode"): Promise<void> {
  const f = attentionFixture();
  const g = (s: string) => f[`${name}.${s}`];
  T.resetKernelStats();
  const [out, [dq, dk, dv]] = forwardAndGrads(g("q"), g("k"), g("v"), g("dout"), opts(f));
  expect(fusedRuns()).toBe(2); // the forward alone, then inside grad
  if (kernel) expect(lastForward()).toBe(kernel);
  await assertClose(out, g("out"), { atol: 2e-5, rtol: 0, label: "out" });
  await assertClose(dq, g("dq"), { atol: 2e-5, rtol: 0, label: "dq" });
  await assertClose(dk, g("dk"), { atol: 2e-5, rtol: 0, label: "dk" });
  await assertClose(dv, g("dv"), { atol: 2e-5, rtol: 0, label: "dv" });
}

for (const threads of [1, 2]) {
  describe(`PyTorch float64 autograd: forward and dq, dk, dv (${threads} thread${threads > 1 ? "s" : ""}; 2e-5 max abs)`, () => {
    const cases: [string, (f: Record<string, T.Tensor>) => AttentionOptions][] = [
      ["causal_gqa", () => ({ causal: true })],
      ["d80_causal", () => ({ causal: true })],
      ["d128_cross", () => ({ causal: true })],
      ["window_alibi_softcap", (f) => ({ window: [5, 2], alibiSlopes: f["window_alibi_softcap.slopes"], softcap: 3 })],
      ["keypad", (f) => ({ keyPadding: T.cast(f["keypad.padding"], "bool") })],
      ["zero_rows", () => ({ causal: true, maskedRows: "zero" })],
    ];
    for (const [name, opts] of cases) {
      it(name, async () => {
        expect(await initAttentionThreads(threads)).toBe(threads);
        await expectFixture(name, opts);
      });
    }
  });
}

describe("fused = composed reference (TypeScript loops) for every option, ragged sizes (1e-5)", () => {
  type Case = [string, [number, number, number, number, number, number, number], AttentionOptions];
  // [B, H, Hkv, Tq, Tk, D, Dv]: no T a multiple of the 64-row blocks
  const cases: Case[] = [
    ["no bias, D 32", [2, 2, 2, 33, 33, 32, 32], {}],
    ["causal GQA 8:2, B 2, D 64", [2, 8, 2, 77, 77, 64, 64], { causal: true }],
    ["causal, D 80", [1, 2, 1, 70, 70, 80, 80], { causal: true }],
    ["causal, D 128, Tq < Tk", [1, 4, 2, 30, 131, 128, 128], { causal: true }],
    ["causal, Tq > Tk: rows without keys give NaN (gradient 0)", [1, 2, 2, 20, 9, 16, 16], { causal: true }],
    ["... or 0 with maskedRows 'zero'", [1, 2, 2, 20, 9, 16, 16], { causal: true, maskedRows: "zero" }],
    ["sliding window + causal, D 64", [2, 4, 4, 150, 150, 64, 64], { causal: true, window: [20, 0] }],
    ["two-sided window, Tq < Tk", [1, 2, 1, 40, 95, 32, 32], { window: [7, 3] }],
    ["ALiBi + causal, GQA", [1, 8, 2, 65, 65, 32, 32], { causal: true, alibiSlopes: alibiSlopes(8) }],
    ["softcap 5", [1, 2, 2, 50, 50, 64, 64], { softcap: 5, scale: 0.4 }],
    ["key padding (batch 0 pads the last 10 keys), Dv != D", [2, 4, 2, 36, 71, 32, 16], {}],
    ["everything: causal, window, ALiBi, softcap, padding, GQA", [2, 4, 2, 45, 45, 40, 24], { causal: true, window: [12, 0], alibiSlopes: alibiSlopes(4), softcap: 4 }],
    ["tiny head dim 4, one query (decode step)", [2, 4, 2, 1, 29, 4, 4], { causal: true }],
  ];
  let seed = 100;
  for (const [name, [B, H, Hkv, Tq, Tk, D, Dv], o] of cases) {
    for (const threads of [1, 2]) {
      it(`${name} (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
        await initAttentionThreads(threads);
        const s = seed;
        const [q, k, v, dout] = [rn([B, H, Tq, D], s), rn([B, Hkv, Tk, D], s + 1), rn([B, Hkv, Tk, Dv], s + 2), rn([B, H, Tq, Dv], s + 3)];
        const keyPadding =
          name.startsWith("key padding") || name.startsWith("everything")
            ? T.tensor(
                Array.from({ length: B }, (_, b) => Array.from({ length: Tk }, (_, j) => b === 0 && j >= Tk - 10)),
                { dtype: "bool" },
              )
            : null;
        const opts = { ...o, keyPadding };
        T.resetKernelStats();
        const [out, grads] = forwardAndGrads(q, k, v, dout, opts);
        expect(fusedRuns()).toBe(2);
        const [refOut, refGrads] = referenceForwardAndGrads(q, k, v, dout, opts, Tq > Tk && o.causal ? "tiled" : "reference");
        await assertClose(out, refOut, { atol: 1e-5, rtol: 1e-5, label: "out" });
        for (let i = 0; i < 3; i++) await assertClose(grads[i], refGrads[i], { atol: 1e-5, rtol: 1e-5, label: `d${"qkv"[i]}` });
      });
    }
    seed += 4;
  }

  // k, v as the first Tk rows of a cache [B, Hkv, capacity, D] (@tessera/tensor's append): the
  // kernel reads each head's rows where they lie (float32Blocks), through every copy-in path.
  for (const [name, [B, H, Hkv, Tq, Tk, D, cap]] of [
    ["rows and head dim padded (Tk 29, D 20)", [2, 4, 2, 1, 29, 20, 40]],
    ["rows padded, head dim exact (Tk 29, D 64)", [1, 4, 2, 1, 29, 64, 93]],
    ["nothing padded (Tk 64, D 32), prefill-sized Tq", [1, 2, 2, 64, 64, 32, 130]],
  ] as [string, number[]][]) {
    it(`k, v as views of a cache with spare capacity: ${name}`, async () => {
      const bufK = rn([B, Hkv, cap, D], 7);
      const bufV = rn([B, Hkv, cap, D], 8);
      const [k, v] = [T.narrow(bufK, 2, 0, Tk), T.narrow(bufV, 2, 0, Tk)];
      expect(T.float32Blocks(k, 2)?.stride).toBe(cap * D); // strided heads, not a contiguous copy
      const [q, dout] = [rn([B, H, Tq, D], 9), rn([B, H, Tq, D], 10)];
      T.resetKernelStats();
      const [out, grads] = forwardAndGrads(q, k, v, dout, { causal: true });
      expect(fusedRuns()).toBe(2);
      const [refOut, refGrads] = referenceForwardAndGrads(q, T.contiguous(k), T.contiguous(v), dout, { causal: true }, "reference");
      await assertClose(out, refOut, { atol: 1e-5, rtol: 1e-5, label: "out" });
      for (let i = 0; i < 3; i++) await assertClose(grads[i], refGrads[i], { atol: 1e-5, rtol: 1e-5, label: `d${"qkv"[i]}` });
    });
  }

  it("one thread and the pool give bit-identical results (tasks do not depend on the thread count)", async () => {
    const [q, k, v, dout] = [rn([1, 8, 300, 64], 1), rn([1, 2, 300, 64], 2), rn([1, 2, 300, 64], 3), rn([1, 8, 300, 64], 4)];
    const run = async (n: number) => {
      expect(await initAttentionThreads(n)).toBe(n);
      const [out, g] = forwardAndGrads(q, k, v, dout, { causal: true, alibiSlopes: alibiSlopes(8) });
      return Promise.all([out, ...g].map((t) => t.data()));
    };
    const one = await run(1);
    const two = await run(2);
    for (let i = 0; i < 4; i++) expect(two[i]).toEqual(one[i]);
  });
});

describe(`the decode path (flash_decode, Tq <= ${DECODE_MAX_TQ}): PyTorch float64 autograd (2e-5 max abs) and the composed reference (1e-5)`, () => {
  it("takes flash_decode up to DECODE_MAX_TQ query rows and flash_fwd above", () => {
    const run = (Tq: number) => {
      sdpa(rn([1, 2, Tq, 8], 1), rn([1, 2, 20, 8], 2), rn([1, 2, 20, 8], 3), { causal: true, implementation: "tiled" }).dispose();
      return lastForward();
    };
    expect([run(1), run(DECODE_MAX_TQ), run(DECODE_MAX_TQ + 1), run(1)]).toEqual(["decode", "decode", "flash", "decode"]);
  });

  for (const threads of [1, 2]) {
    const cases: [string, (f: Record<string, T.Tensor>) => AttentionOptions][] = [
      ["decode_causal_gqa", () => ({ causal: true })],
      ["decode_d38", () => ({ causal: true })],
      ["decode_window_alibi_softcap", (f) => ({ window: [5, 2], alibiSlopes: f["window_alibi_softcap.slopes"], softcap: 3 })],
      ["decode_keypad", (f) => ({ keyPadding: T.cast(f["decode_keypad.padding"], "bool") })],
      ["decode_zero_rows", () => ({ causal: true, maskedRows: "zero" })],
    ];
    for (const [name, opts] of cases) {
      it(`PyTorch: ${name} (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
        expect(await initAttentionThreads(threads)).toBe(threads);
        expect(attentionFixture()[`${name}.q`].shape[2]).toBeLessThanOrEqual(DECODE_MAX_TQ);
        await expectFixture(name, opts, "decode");
      });
    }
  }

  // [B, H, Hkv, Tq, Tk, D, Dv], options, which batches' keys are padding (j => padded)
  type Case = [string, [number, number, number, number, number, number, number], AttentionOptions, ((b: number, j: number) => boolean)?];
  const cases: Case[] = [
    ["one query, causal GQA 12:4, Tk 129, D 64 (a GPT-2-sized step)", [1, 12, 4, 1, 129, 64, 64], { causal: true }],
    [`${DECODE_MAX_TQ} queries, causal, D 38, Dv 22 (not multiples of 4), B 2`, [2, 4, 2, DECODE_MAX_TQ, 67, 38, 22], { causal: true }],
    ["two queries, no mask, D 5, Tk 3", [1, 3, 1, 2, 3, 5, 7], {}],
    ["two-sided window, Tq < Tk", [1, 2, 1, 5, 95, 32, 32], { window: [7, 3] }],
    [
      "causal + window + ALiBi + softcap + key padding, GQA",
      [2, 4, 2, 3, 45, 40, 24],
      { causal: true, window: [12, 0], alibiSlopes: alibiSlopes(4), softcap: 4 },
      (b, j) => (b === 0 ? j >= 35 : j % 7 === 2),
    ],
    ["causal, Tq > Tk: rows without keys give NaN (gradient 0)", [1, 2, 2, 4, 2, 16, 16], { causal: true }],
    ["... or 0 with maskedRows 'zero'", [1, 2, 2, 4, 2, 16, 16], { causal: true, maskedRows: "zero" }],
    ["every key of batch 1 padded: NaN rows", [2, 2, 1, 1, 10, 8, 8], {}, (b, j) => b === 1 || j === 0],
    [`on the pool: 12 heads, ${DECODE_MAX_TQ} queries, Tk 1100 (above the threading threshold)`, [1, 12, 4, DECODE_MAX_TQ, 1100, 64, 64], { causal: true }],
  ];
  let seed = 500;
  for (const [name, [B, H, Hkv, Tq, Tk, D, Dv], o, padded] of cases) {
    for (const threads of [1, 2]) {
      const s = seed;
      it(`reference: ${name} (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
        await initAttentionThreads(threads);
        const [q, k, v, dout] = [rn([B, H, Tq, D], s), rn([B, Hkv, Tk, D], s + 1), rn([B, Hkv, Tk, Dv], s + 2), rn([B, H, Tq, Dv], s + 3)];
        const keyPadding = padded
          ? T.tensor(
              Array.from({ length: B }, (_, b) => Array.from({ length: Tk }, (_, j) => padded(b, j))),
              { dtype: "bool" },
            )
          : null;
        const opts = { ...o, keyPadding };
        T.resetKernelStats();
        const [out, grads] = forwardAndGrads(q, k, v, dout, opts);
        expect(fusedRuns()).toBe(2);
        expect(lastForward()).toBe("decode");
        const noKeyRows = (Tq > Tk && o.causal) || name.includes("NaN rows");
        const [refOut, refGrads] = referenceForwardAndGrads(q, k, v, dout, opts, noKeyRows ? "tiled" : "reference");
        await assertClose(out, refOut, { atol: 1e-5, rtol: 1e-5, label: "out" });
        for (let i = 0; i < 3; i++) await assertClose(grads[i], refGrads[i], { atol: 1e-5, rtol: 1e-5, label: `d${"qkv"[i]}` });
      });
    }
    seed += 4;
  }

  it("one thread and the pool give bit-identical decode outputs", async () => {
    const [q, k, v] = [rn([1, 12, DECODE_MAX_TQ, 64], 1), rn([1, 4, 1100, 64], 2), rn([1, 4, 1100, 64], 3)];
    const run = async (n: number) => {
      expect(await initAttentionThreads(n)).toBe(n);
      const out = await sdpa(q, k, v, { causal: true, alibiSlopes: alibiSlopes(12), implementation: "tiled" }).data();
      expect(lastForward()).toBe("decode");
      return out;
    };
    expect(await run(2)).toEqual(await run(1));
  });
});

describe("memory", () => {
  it("WebAssembly memory is linear in T (no Tq x Tk buffer): T 512 -> 2048 uses ~4x, far below the scores", async () => {
    const used = (Tn: number) => {
      const [q, k, v] = [rn([1, 2, Tn, 16], 1), rn([1, 2, Tn, 16], 2), rn([1, 2, Tn, 16], 3)];
      T.grad((a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(sdpa(a, b, c, { causal: true, implementation: "tiled" })))(q, k, v);
      return flashWasm()!.lastBytes;
    };
    const small = used(512);
    const large = used(2048);
    expect(large / small).toBeLessThan(4.2); // quadratic would be ~16
    expect(large).toBeLessThan(2 * 2048 * 2048 * 4); // one head's float32 scores alone: 16 MiB
  });

  it("live tensors stay flat over repeated forward + backward", () => {
    const [q, k, v] = [rn([1, 4, 40, 16], 1), rn([1, 2, 40, 16], 2), rn([1, 2, 40, 16], 3)];
    const step = () => T.tidy(() => T.grad((a: T.Tensor, b: T.Tensor, c: T.Tensor) => T.sum(sdpa(a, b, c, { causal: true, implementation: "tiled" })))(q, k, v));
    for (const t of step()) t.dispose();
    const before = T.memory().numTensors;
    for (let i = 0; i < 5; i++) for (const t of step()) t.dispose();
    expect(T.memory().numTensors).toBe(before);
  });
});

describe("fallbacks and errors", () => {
  const [q, k, v] = [rn([1, 2, 6, 8], 1), rn([1, 2, 6, 8], 2), rn([1, 2, 6, 8], 3)];
  it("a general mask, the 'reference' preference and float16 inputs run the composed form (visible in kernelStats)", () => {
    T.resetKernelStats();
    sdpa(q, k, v, { mask: T.ones([6, 6], { dtype: "bool" }), implementation: "tiled" });
    T.withKernelPreference("reference", () => sdpa(q, k, v, { causal: true, implementation: "tiled" }));
    const h = (t: T.Tensor) => T.cast(t, "float16");
    sdpa(h(q), h(k), h(v), { causal: true, implementation: "tiled" });
    expect(fusedRuns()).toBe(0);
  });
  it("'auto' takes the fused kernel on cpu at any length; weights and dropout keep the reference", () => {
    T.resetKernelStats();
    sdpa(q, k, v, { causal: true });
    expect(fusedRuns()).toBe(1);
    sdpa(q, k, v, { causal: true, returnWeights: true });
    sdpa(q, k, v, { causal: true, dropout: { p: 0.1, seed: 1 } });
    expect(fusedRuns()).toBe(1);
  });
  it("bad structured biases are rejected naming the op and shapes", () => {
    expect(() => sdpa(q, k, v, { window: [-1, 0], implementation: "tiled" })).toThrow("tiledAttention: window [-1, 0] must be non-negative");
    expect(() => sdpa(q, k, v, { alibiSlopes: [1, 2, 3], implementation: "tiled" })).toThrow("tiledAttention: alibiSlopes must hold one slope per query head (2), got [3]");
    expect(() => sdpa(q, k, v, { keyPadding: T.zeros([1, 5], { dtype: "bool" }), implementation: "tiled" })).toThrow(
      "tiledAttention: keyPadding must be [B, Tk] = [1,6], got [1,5]",
    );
  });
  it("initAttentionThreads rejects a bad count", async () => {
    await expect(initAttentionThreads(0)).rejects.toThrow("initAttentionThreads: threads must be an integer in 1..64, got 0");
  });
});

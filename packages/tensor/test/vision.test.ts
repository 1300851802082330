/**
 * Vision ops against PyTorch (fixtures/ops/vision.safetensors, made by fixtures/generate/vision.py):
 * forward outputs and the gradients of sum(out * r) for every input, to 1e-5 (float32).
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../src/index";
import { loadSafetensors } from "../src/io/node";
import { assertClose } from "../src/testing";
import { fixturePath } from "./helpers";

let f: Record<string, T.Tensor>;
beforeAll(() => {
  f = loadSafetensors(fixturePath("ops", "vision.safetensors")).tensors;
  for (const t of Object.values(f)) T.keep(t);
});

const ATOL = 1e-5;
const RTOL = 1e-5;
/** Max abs error per compared tensor, printed at the end (what the report quotes). */
const errors: Record<string, number> = {};

function maxAbs(a: T.Tensor, b: T.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

async function close(actual: T.Tensor, key: string, tol = { atol: ATOL, rtol: RTOL }): Promise<void> {
  const expected = f[key];
  if (!expected) throw new Error(`no fixture ${key}`);
  expect(actual.shape, key).toEqual(expected.shape);
  errors[key] = maxAbs(actual, expected);
  await assertClose(actual, expected, { ...tol, label: key });
}

/** Checks out and the gradients of sum(out * r) wrt the named inputs. */
async function check(name: string, inputs: string[], fn: (...xs: T.Tensor[]) => T.Tensor, inputPrefix = name): Promise<void> {
  const xs = inputs.map((k) => f[`${inputPrefix}.${k}`]);
  const r = f[`${name}.r`];
  await close(fn(...xs), `${name}.out`);
  const grads = T.grad((...ps: T.Tensor[]) => T.sum(T.mul(fn(...ps), r)))(...xs);
  for (let i = 0; i < inputs.length; i++) await close(grads[i], `${name}.g${inputs[i]}`);
}

describe("vision ops match PyTorch (forward and gradients)", () => {
  it("conv2d: stride 2, padding 1, dilation 2, groups 2, bias", () => check("conv2d_a", ["x", "w", "b"], (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 1, dilation: 2, groups: 2 })));
  it("conv2d: padding 'same' with an even kernel (4x2) and dilation [1, 2]", () => check("conv2d_same", ["x", "w", "b"], (x, w, b) => T.conv2d(x, w, b, { padding: "same", dilation: [1, 2] })));
  it("conv2d: stride [1, 2], padding [2, 1], no bias", () => check("conv2d_asym", ["x", "w"], (x, w) => T.conv2d(x, w, null, { stride: [1, 2], padding: [2, 1] })));
  it("convTranspose2d: stride 2, padding 1, outputPadding 1, groups 2", () => check("convt_a", ["x", "w", "b"], (x, w, b) => T.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 })));
  it("convTranspose2d: stride [2, 1], padding [2, 1], outputPadding [1, 0], dilation 2", () => check("convt_b", ["x", "w", "b"], (x, w, b) => T.convTranspose2d(x, w, b, { stride: [2, 1], padding: [2, 1], outputPadding: [1, 0], dilation: 2 })));

  it("upsample nearest: scale 2 and an odd target size", async () => {
    await check("up_nearest_s2", ["x"], (x) => T.upsample(x, { scaleFactor: 2 }), "up");
    await check("up_nearest_size", ["x"], (x) => T.upsample(x, { size: [7, 9], mode: "nearest" }), "up");
  });
  for (const [tag, ac] of [["t", true], ["f", false]] as const) {
    it(`upsample bilinear alignCorners ${ac}: scale 2, size [7, 9], downsampling to [3, 4]`, async () => {
      await check(`up_bilinear_${tag}_s2`, ["x"], (x) => T.upsample(x, { scaleFactor: 2, mode: "bilinear", alignCorners: ac }), "up");
      await check(`up_bilinear_${tag}_size`, ["x"], (x) => T.upsample(x, { size: [7, 9], mode: "bilinear", alignCorners: ac }), "up");
      await check(`up_bilinear_${tag}_down`, ["x"], (x) => T.upsample(x, { size: [3, 4], mode: "bilinear", alignCorners: ac }), "up");
    });
  }

  it("avgPool2d: countIncludePad true/false, ceilMode, rectangular kernels", async () => {
    await check("avgpool_a", ["x"], (x) => T.avgPool2d(x, 3, { stride: 2, padding: 1 }));
    await check("avgpool_b", ["x"], (x) => T.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true }));
    await check("avgpool_c", ["x"], (x) => T.avgPool2d(x, [2, 3], { stride: [3, 2], padding: [1, 1], countIncludePad: true, ceilMode: true }));
  });

  it("maxPool2d: values, indices (flat into H*W) and gradients; padding, dilation, ceilMode", async () => {
    const cases: [string, T.Size2, T.MaxPool2dOptions][] = [
      ["maxpool_a", 3, { stride: 2, padding: 1 }],
      ["maxpool_b", 2, { stride: 2, padding: 1, dilation: 2, ceilMode: true }],
      ["maxpool_c", [3, 2], { stride: [2, 3], ceilMode: true }],
    ];
    for (const [name, k, o] of cases) {
      await check(name, ["x"], (x) => T.maxPool2d(x, k, o));
      const { values, indices } = T.maxPool2d(f[`${name}.x`], k, { ...o, returnIndices: true });
      await close(values, `${name}.out`);
      expect(indices.dtype).toBe("int32");
      expect([...indices.dataSync()]).toEqual([...f[`${name}.idx`].dataSync()]);
    }
  });

  it("groupNorm (3 groups of 2 channels, affine)", () => check("groupnorm", ["x", "w", "b"], (x, w, b) => T.groupNorm(x, 3, w, b, 1e-5)));

  it("batchNorm training: batch statistics, running stats updated in place (unbiased variance)", async () => {
    const run = (rm: T.Tensor | null, rv: T.Tensor | null) => (x: T.Tensor, w: T.Tensor, b: T.Tensor) => T.batchNorm(x, rm, rv, w, b, { training: true, momentum: 0.1, eps: 1e-5 });
    await check("bn_train", ["x", "w", "b"], run(null, null));
    const rm = T.clone(f["bn_train.rm0"]);
    const rv = T.clone(f["bn_train.rv0"]);
    await close(run(rm, rv)(f["bn_train.x"], f["bn_train.w"], f["bn_train.b"]), "bn_train.out");
    await close(rm, "bn_train.rm");
    await close(rv, "bn_train.rv");
    // Inside a gradient, the update still happens once and the gradients are unchanged.
    const rm2 = T.clone(f["bn_train.rm0"]);
    const rv2 = T.clone(f["bn_train.rv0"]);
    const [gx] = T.grad((x: T.Tensor) => T.sum(T.mul(run(rm2, rv2)(x, f["bn_train.w"], f["bn_train.b"]), f["bn_train.r"])))(f["bn_train.x"]);
    await close(gx, "bn_train.gx");
    await close(rm2, "bn_train.rm");
    await close(rv2, "bn_train.rv");
  });

  it("batchNorm eval: running statistics", () => check("bn_eval", ["x", "w", "b"], (x, w, b) => T.batchNorm(x, f["bn_train.rm0"], f["bn_train.rv0"], w, b, { eps: 1e-5 })));

  it("pixelShuffle / pixelUnshuffle", async () => {
    await check("pixel_shuffle", ["x"], (x) => T.pixelShuffle(x, 2));
    await check("pixel_unshuffle", ["x"], (x) => T.pixelUnshuffle(x, 2));
    const x = f["pixel_shuffle.x"];
    await assertClose(T.pixelUnshuffle(T.pixelShuffle(x, 2), 2), x, { atol: 0, rtol: 0 });
  });

  it("unfold / fold (kernel [3, 2], dilation [1, 2], padding [1, 0], stride [2, 1])", async () => {
    const o = { dilation: [1, 2], padding: [1, 0], stride: [2, 1] } as const;
    await check("unfold", ["x"], (x) => T.unfold(x, [3, 2], o));
    await check("fold", ["x"], (x) => T.fold(x, [7, 8], [3, 2], o));
  });

  it("prints the max abs error per key", () => {
    const rows = Object.entries(errors).map(([k, v]) => `${k.padEnd(28)} ${v.toExponential(2)}`);
    console.log(`vision ops vs PyTorch 1.13 (max abs error):\n${rows.join("\n")}`);
    expect(rows.length).toBeGreaterThan(60);
  });
});

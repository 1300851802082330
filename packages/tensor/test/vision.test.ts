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
  it("conv2d: stride 2, padding 1, dilation 2, groups 2, bias", () =>
    check("conv2d_a", ["x", "w", "b"], (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 1, dilation: 2, groups: 2 })));
  it("conv2d: padding 'same' with an even kernel (4x2) and dilation [1, 2]", () =>
    check("conv2d_same", ["x", "w", "b"], (x, w, b) => T.conv2d(x, w, b, { padding: "same", dilation: [1, 2] })));
  it("conv2d: stride [1, 2], padding [2, 1], no bias", () => check("conv2d_asym", ["x", "w"], (x, w) => T.conv2d(x, w, null, { stride: [1, 2], padding: [2, 1] })));
  it("convTranspose2d: stride 2, padding 1, outputPadding 1, groups 2", () =>
    check("convt_a", ["x", "w", "b"], (x, w, b) => T.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 })));
  it("convTranspose2d: stride [2, 1], padding [2, 1], outputPadding [1, 0], dilation 2", () =>
    check("convt_b", ["x", "w", "b"], (x, w, b) => T.convTranspose2d(x, w, b, { stride: [2, 1], padding: [2, 1], outputPadding: [1, 0], dilation: 2 })));

  it("upsample nearest: scale 2 and an odd target size", async () => {
    await check("up_nearest_s2", ["x"], (x) => T.upsample(x, { scaleFactor: 2 }), "up");
    await check("up_nearest_size", ["x"], (x) => T.upsample(x, { size: [7, 9], mode: "nearest" }), "up");
  });
  for (const [tag, ac] of [
    ["t", true],
    ["f", false],
  ] as const) {
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
    const cases: [string, T.Size2, Omit<T.MaxPool2dOptions, "returnIndices">][] = [
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

describe("vision nn layers", () => {
  it("Conv2d: PyTorch names and shapes, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) init, forward = conv2d", async () => {
    const c = new T.Conv2d(4, 6, 3, { stride: 2, padding: 1, dilation: 2, groups: 2, seed: 1 });
    expect(Object.keys(c.namedParameters())).toEqual(["weight", "bias"]);
    expect(c.weight.shape).toEqual([6, 2, 3, 3]);
    expect(c.bias!.shape).toEqual([6]);
    const bound = 1 / Math.sqrt(2 * 9);
    for (const p of [c.weight, c.bias!]) {
      const v = p.dataSync();
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(bound * 0.6);
    }
    c.loadStateDict({ weight: f["conv2d_a.w"], bias: f["conv2d_a.b"] });
    await close(c.forward(f["conv2d_a.x"]), "conv2d_a.out");
    expect(new T.Conv2d(3, 8, [4, 2], { bias: false, padding: "same" }).bias).toBeNull();
    c.dispose();
  });

  it("ConvTranspose2d: weight [in, out/groups, kh, kw], fan_in from dim 1, forward = convTranspose2d", async () => {
    const c = new T.ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2, seed: 2 });
    expect(c.weight.shape).toEqual([4, 3, 3, 3]);
    expect(c.bias!.shape).toEqual([6]);
    const bound = 1 / Math.sqrt(3 * 9);
    expect(Math.max(...c.weight.dataSync().map(Math.abs))).toBeLessThanOrEqual(bound);
    c.loadStateDict({ weight: f["convt_a.w"], bias: f["convt_a.b"] });
    await close(c.forward(f["convt_a.x"]), "convt_a.out");
    c.dispose();
  });

  it("GroupNorm: weight ones, bias zeros; forward = groupNorm", async () => {
    const g = new T.GroupNorm(3, 6);
    expect(g.weight!.dataSync()).toEqual(new Float32Array(6).fill(1));
    g.loadStateDict({ weight: f["groupnorm.w"], bias: f["groupnorm.b"] });
    await close(g.forward(f["groupnorm.x"]), "groupnorm.out");
    expect(new T.GroupNorm(2, 4, { affine: false }).parameters()).toEqual([]);
    expect(() => new T.GroupNorm(4, 6)).toThrow("GroupNorm: numChannels 6 must be divisible by numGroups 4");
    g.dispose();
  });

  it("BatchNorm2d: state dict keys as PyTorch; train() updates the buffers, eval() uses them", async () => {
    const bn = new T.BatchNorm2d(3);
    expect(Object.keys(bn.stateDict())).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    expect(bn.numBatchesTracked!.shape).toEqual([]);
    bn.loadStateDict({
      weight: f["bn_train.w"],
      bias: f["bn_train.b"],
      running_mean: f["bn_train.rm0"],
      running_var: f["bn_train.rv0"],
      num_batches_tracked: T.scalar(0, "int32"),
    });
    await close(bn.forward(f["bn_train.x"]), "bn_train.out");
    await close(bn.runningMean!, "bn_train.rm");
    await close(bn.runningVar!, "bn_train.rv");
    expect(bn.numBatchesTracked!.itemSync()).toBe(1);
    bn.loadStateDict({ ...bn.stateDict(), running_mean: f["bn_train.rm0"], running_var: f["bn_train.rv0"] });
    bn.eval();
    await close(bn.forward(f["bn_train.x"]), "bn_eval.out");
    expect(bn.numBatchesTracked!.itemSync()).toBe(1);
    // Gradients through the module in training mode.
    bn.train();
    const { grads } = T.gradients(() => T.sum(T.mul(bn.forward(f["bn_train.x"]), f["bn_train.r"])), bn.namedParameters());
    await close(grads.weight, "bn_train.gw");
    await close(grads.bias, "bn_train.gb");
    bn.dispose();
  });

  it("BatchNorm2d momentum null: the running mean is the cumulative average of batch means", async () => {
    const bn = new T.BatchNorm2d(2, { momentum: null, affine: false });
    const a = T.normal([3, 2, 4, 4], 1, 1, { seed: 3 });
    const b = T.normal([3, 2, 4, 4], -2, 1, { seed: 4 });
    bn.forward(a);
    bn.forward(b);
    const expected = T.div(T.add(T.mean(a, [0, 2, 3]), T.mean(b, [0, 2, 3])), 2);
    await assertClose(bn.runningMean!, expected, { atol: 1e-6, rtol: 1e-5 });
    expect(bn.numBatchesTracked!.itemSync()).toBe(2);
    bn.dispose();
  });

  it("BatchNorm2d without running stats uses batch statistics in eval too", async () => {
    const bn = new T.BatchNorm2d(3, { trackRunningStats: false });
    expect(Object.keys(bn.stateDict())).toEqual(["weight", "bias"]);
    bn.eval();
    bn.loadStateDict({ weight: f["bn_train.w"], bias: f["bn_train.b"] });
    await close(bn.forward(f["bn_train.x"]), "bn_train.out");
  });
});

describe("vision memory", () => {
  it("a loop of forward + backward through every vision op leaves memory() flat", () => {
    const live = (m: T.MemoryInfo) => ({ numTensors: m.numTensors, numStorages: m.numStorages, numBytes: m.numBytes });
    const conv = new T.Conv2d(3, 4, 3, { padding: 1, seed: 1 });
    const up = new T.ConvTranspose2d(4, 4, 2, { stride: 2, seed: 2 });
    const gn = new T.GroupNorm(2, 4);
    const bn = new T.BatchNorm2d(4);
    const x = T.normal([2, 3, 8, 8], 0, 1, { seed: 5 });
    const step = () => {
      const { value, grads } = T.gradients(
        () => {
          let h = bn.forward(gn.forward(conv.forward(x)));
          h = T.maxPool2d(h, 2);
          h = T.upsample(up.forward(h), { size: [9, 7], mode: "bilinear" });
          h = T.avgPool2d(T.pixelUnshuffle(T.pixelShuffle(T.concat([h, h, h, h], 1), 2), 2), 3, { padding: 1, stride: 2, ceilMode: true });
          return T.sum(T.fold(T.unfold(h, 2), [5, 4], 2));
        },
        { ...conv.namedParameters(), ...up.namedParameters(), ...gn.namedParameters(), ...bn.namedParameters() },
      );
      T.dispose([value, grads]);
      T.tidy(() => {
        T.maxPool2d(x, 3, { returnIndices: true, padding: 1 });
      });
    };
    step();
    const before = T.memory();
    for (let i = 0; i < 20; i++) step();
    expect(live(T.memory())).toEqual(live(before));
    T.dispose([x]);
    for (const m of [conv, up, gn, bn]) m.dispose();
  });
});

describe("vision errors name the op, the argument and the shapes", () => {
  const x = () => T.ones([1, 3, 8, 8]);
  it("conv2d", () => {
    expect(() => T.conv2d(x(), T.ones([4, 2, 3, 3]))).toThrow("conv2d: x [1,3,8,8] has 3 channels but weight [4,2,3,3] with groups 1 expects 2");
    expect(() => T.conv2d(T.ones([1, 4, 8, 8]), T.ones([3, 2, 3, 3]), null, { groups: 2 })).toThrow("conv2d: weight [3,2,3,3] has 3 output channels, not divisible by groups 2");
    expect(() => T.conv2d(x(), T.ones([4, 3, 3, 3]), T.ones([3]))).toThrow("conv2d: bias [3] must be [4] for weight [4,3,3,3]");
    expect(() => T.conv2d(x(), T.ones([4, 3, 3, 3]), null, { padding: "same", stride: 2 })).toThrow("conv2d: padding 'same' needs stride 1, got [2, 2]");
    expect(() => T.conv2d(x(), T.ones([4, 3, 9, 3]))).toThrow("conv2d: x [1,3,8,8] with padding [0, 0, 0, 0] is smaller than the kernel span [9, 3] of weight [4,3,9,3]");
    expect(() => T.conv2d(T.ones([3, 8, 8]), T.ones([4, 3, 3, 3]))).toThrow("conv2d: x must be [N, C, H, W], got [3,8,8]");
    expect(() => T.conv2d(x(), T.ones([4, 3, 3, 3]), null, { stride: 0 })).toThrow("conv2d: stride must be a positive integer or a pair of them, got 0");
    expect(() => T.conv2d(x(), T.ones([4, 3, 3, 3], { dtype: "int32" }))).toThrow("conv2d: weight must be a float tensor, got int32 [4,3,3,3]");
  });
  it("convTranspose2d", () => {
    expect(() => T.convTranspose2d(x(), T.ones([4, 2, 3, 3]))).toThrow(
      "convTranspose2d: x [1,3,8,8] has 3 channels but weight [4,2,3,3] expects 4 (weight is [C, O/groups, kh, kw])",
    );
    expect(() => T.convTranspose2d(x(), T.ones([3, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(
      "convTranspose2d: outputPadding [2, 2] must be smaller than the stride [2, 2] or the dilation [1, 1]",
    );
    expect(() => T.convTranspose2d(x(), T.ones([3, 2, 3, 3]), null, { groups: 2 })).toThrow("convTranspose2d: x [1,3,8,8] has 3 channels, not divisible by groups 2");
  });
  it("pooling, upsample, unfold/fold", () => {
    expect(() => T.maxPool2d(x(), 3, { padding: 2 })).toThrow("maxPool2d: padding [2, 2] must be at most half the kernel [3, 3]");
    expect(() => T.avgPool2d(x(), 9)).toThrow("avgPool2d: x [1,3,8,8] with padding [0, 0] is smaller than the kernel span [9, 9]");
    expect(() => T.upsample(x(), { size: [4, 4], scaleFactor: 2 })).toThrow("upsample: give exactly one of size and scaleFactor");
    expect(() => T.upsample(x(), { scaleFactor: 2, alignCorners: true })).toThrow("upsample: alignCorners only applies to mode 'bilinear'");
    expect(() => T.fold(T.ones([1, 12, 10]), [4, 4], 2)).toThrow(
      "fold: cols [1,12,10] has 10 blocks but outputSize [4, 4] with kernel [2, 2], padding [0, 0], stride [1, 1] and dilation [1, 1] gives 3*3 = 9",
    );
    expect(() => T.fold(T.ones([1, 10, 9]), [4, 4], 2)).toThrow("fold: cols [1,10,9]: axis 1 (10) must be a multiple of the kernel size 2*2 = 4");
  });
  it("norms and rearrangements", () => {
    expect(() => T.groupNorm(x(), 2)).toThrow("groupNorm: x [1,3,8,8] has 3 channels, not divisible into numGroups 2");
    expect(() => T.groupNorm(x(), 3, T.ones([4]))).toThrow("groupNorm: weight [4] must be [3] for the 3 channels of x [1,3,8,8]");
    expect(() => T.batchNorm(x(), T.zeros([2]), T.ones([3]))).toThrow("batchNorm: runningMean [2] must be [3] for the 3 channels of x [1,3,8,8]");
    expect(() => T.batchNorm(x(), null, null)).toThrow("batchNorm: eval mode (training false) needs runningMean and runningVar");
    expect(() => T.batchNorm(T.ones([1, 3, 1, 1]), null, null, null, null, { training: true })).toThrow(
      "batchNorm: expected more than 1 value per channel when training, got x [1,3,1,1]",
    );
    expect(() => T.pixelShuffle(x(), 2)).toThrow("pixelShuffle: x [1,3,8,8] has 3 channels, not divisible by upscaleFactor^2 = 4");
    expect(() => T.pixelUnshuffle(T.ones([1, 3, 8, 6]), 4)).toThrow("pixelUnshuffle: x [1,3,8,6]: height 8 and width 6 must be divisible by downscaleFactor 4");
    expect(() => new T.Conv2d(3, 4, 3, { groups: 2 })).toThrow("Conv2d: inChannels 3 and outChannels 4 must be divisible by groups 2");
    expect(() => new T.BatchNorm2d(3).forward(T.ones([2, 4, 2, 2]))).toThrow("BatchNorm2d: x [2,4,2,2] must be [N, 3, H, W]");
  });
});

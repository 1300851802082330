/**
 * Finite-difference checks for every differentiable op (central differences in float32,
 * eps 1e-2; tolerance atol 2e-3 + rtol 2e-2), plus the autograd API itself.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/index";
import { checkGrad } from "../src/testing";

let seed = 100;
/** N(0,1) values; `awayFromZero` keeps |x| >= 0.2 so kinks (abs, relu, ...) are not straddled. */
function rand(shape: number[], opts: { awayFromZero?: boolean; positive?: boolean; scale?: number } = {}): T.Tensor {
  return T.keep(
    T.tidy(() => {
      let x = T.mul(T.normal(shape, 0, 1, { seed: seed++ }), opts.scale ?? 1);
      if (opts.awayFromZero) x = T.mul(T.sign(x), T.add(T.abs(x), 0.2));
      if (opts.positive) x = T.add(T.abs(x), 0.3);
      return x;
    }),
  );
}

/** Reduces any output to a scalar with fixed random weights, so every output element matters. */
function weighted(y: T.Tensor): T.Tensor {
  const w = T.normal(y.shape, 0, 1, { seed: 7 });
  return T.sum(T.mul(y, w));
}

type Case = [name: string, f: (...xs: T.Tensor[]) => T.Tensor, inputs: () => T.Tensor[]];

const cases: Case[] = [
  // elementwise binary, with broadcasting
  ["add", (a, b) => T.add(a, b), () => [rand([3, 1, 4]), rand([2, 4])]],
  ["sub", (a, b) => T.sub(a, b), () => [rand([3, 4]), rand([4])]],
  ["mul", (a, b) => T.mul(a, b), () => [rand([2, 3]), rand([2, 1])]],
  ["div", (a, b) => T.div(a, b), () => [rand([2, 3]), rand([3], { positive: true })]],
  ["pow", (a, b) => T.pow(a, b), () => [rand([2, 3], { positive: true }), rand([2, 3], { scale: 0.5 })]],
  ["maximum", (a, b) => T.maximum(a, b), () => [rand([2, 3]), rand([2, 3])]],
  ["minimum", (a, b) => T.minimum(a, b), () => [rand([2, 3]), rand([3])]],
  ["atan2", (a, b) => T.atan2(a, b), () => [rand([5]), rand([5], { awayFromZero: true })]],
  ["mod", (a, b) => T.mod(a, b), () => [T.keep(T.tensor([0.3, 1.7, -2.5, 4.1])), T.keep(T.tensor([1.1, -0.9, 1.3, 2.2]))]],
  ["where", (a, b) => T.where(T.gt(a, 0), a, T.mul(b, 2)), () => [rand([2, 4], { awayFromZero: true }), rand([4])]],
  // unary
  ["neg", (a) => T.neg(a), () => [rand([5])]],
  ["abs", (a) => T.abs(a), () => [rand([6], { awayFromZero: true })]],
  ["exp", (a) => T.exp(a), () => [rand([5])]],
  ["expm1", (a) => T.expm1(a), () => [rand([5])]],
  ["log", (a) => T.log(a), () => [rand([5], { positive: true })]],
  ["log1p", (a) => T.log1p(a), () => [rand([5], { positive: true })]],
  ["sqrt", (a) => T.sqrt(a), () => [rand([5], { positive: true })]],
  ["rsqrt", (a) => T.rsqrt(a), () => [rand([5], { positive: true })]],
  ["square", (a) => T.square(a), () => [rand([5])]],
  ["reciprocal", (a) => T.reciprocal(a), () => [rand([5], { positive: true })]],
  ["tanh", (a) => T.tanh(a), () => [rand([5])]],
  ["erf", (a) => T.erf(a), () => [rand([5])]],
  ["sin", (a) => T.sin(a), () => [rand([5])]],
  ["cos", (a) => T.cos(a), () => [rand([5])]],
  ["clamp", (a) => T.clamp(a, -0.5, 0.7), () => [T.keep(T.tensor([-1.2, -0.3, 0.1, 0.5, 1.4]))]],
  ["round (zero gradient)", (a) => T.add(T.round(a), a), () => [T.keep(T.tensor([0.2, 1.3, -2.2]))]],
  // activations
  ["sigmoid", (a) => T.sigmoid(a), () => [rand([6])]],
  ["relu", (a) => T.relu(a), () => [rand([6], { awayFromZero: true })]],
  ["gelu", (a) => T.gelu(a), () => [rand([6])]],
  ["gelu tanh", (a) => T.gelu(a, "tanh"), () => [rand([6])]],
  ["silu", (a) => T.silu(a), () => [rand([6])]],
  ["softplus", (a) => T.softplus(a, 2, 5), () => [T.keep(T.tensor([-3, -0.5, 0.4, 1.2, 4]))]],
  ["logSigmoid", (a) => T.logSigmoid(a), () => [T.keep(T.tensor([-30, -3, -0.5, 0.4, 25]))]],
  ["elu", (a) => T.elu(a, 0.7), () => [rand([6], { awayFromZero: true })]],
  ["leakyRelu", (a) => T.leakyRelu(a, 0.1), () => [rand([6], { awayFromZero: true })]],
  // reductions
  ["sum", (a) => T.sum(a, [0, 2]), () => [rand([2, 3, 4])]],
  ["mean", (a) => T.mean(a, 1, { keepdims: true }), () => [rand([2, 3, 4])]],
  ["prod", (a) => T.prod(a, 1), () => [rand([2, 4], { awayFromZero: true })]],
  [
    "prod with a zero",
    (a) => T.prod(a, [0, 1]),
    () => [
      T.keep(
        T.tensor([
          [0.5, 0],
          [2, -1.5],
        ]),
      ),
    ],
  ],
  ["max", (a) => T.max(a, -1), () => [rand([3, 5])]],
  ["min", (a) => T.min(a), () => [rand([3, 5])]],
  ["variance", (a) => T.variance(a, 1), () => [rand([3, 5])]],
  ["std", (a) => T.std(a, [0, 1], { correction: 0 }), () => [rand([3, 5])]],
  ["logsumexp", (a) => T.logsumexp(a, 0), () => [rand([4, 3])]],
  // linear algebra
  ["matmul (batched, broadcast)", (a, b) => T.matmul(a, b), () => [rand([2, 1, 3, 4]), rand([3, 4, 2])]],
  ["matmul (vector)", (a, b) => T.matmul(a, b), () => [rand([4]), rand([4, 3])]],
  ["linear", (x, w, b) => T.linear(x, w, b), () => [rand([2, 3]), rand([4, 3]), rand([4])]],
  // normalization
  ["softmax", (a) => T.softmax(a, 1), () => [rand([2, 4, 3])]],
  ["logSoftmax", (a) => T.logSoftmax(a), () => [rand([2, 5])]],
  ["layerNorm", (x, w, b) => T.layerNorm(x, w, b), () => [rand([2, 3, 6]), rand([6]), rand([6])]],
  ["layerNorm (no affine)", (x) => T.layerNorm(x), () => [rand([3, 5])]],
  ["rmsNorm", (x, w) => T.rmsNorm(x, w, 1e-5), () => [rand([2, 6]), rand([6])]],
  // indexing
  [
    "gather",
    (a) =>
      T.gather(
        a,
        1,
        T.tensor(
          [
            [0, 2, 2],
            [1, 0, 1],
          ],
          { dtype: "int32" },
        ),
      ),
    () => [rand([2, 3])],
  ],
  ["indexSelect", (a) => T.indexSelect(a, 0, [2, 0, 2]), () => [rand([3, 2])]],
  [
    "embedding",
    (w) =>
      T.embedding(
        w,
        T.tensor(
          [
            [1, 1],
            [0, 2],
          ],
          { dtype: "int32" },
        ),
      ),
    () => [rand([3, 4])],
  ],
  [
    "scatterAdd",
    (b, s) =>
      T.scatterAdd(
        b,
        0,
        T.tensor(
          [
            [1, 0],
            [1, 1],
          ],
          { dtype: "int32" },
        ),
        s,
      ),
    () => [rand([2, 2]), rand([2, 2])],
  ],
  // joining and views
  ["concat", (a, b) => T.concat([a, b], 1), () => [rand([2, 2]), rand([2, 3])]],
  ["stack", (a, b) => T.stack([a, b], 0), () => [rand([2, 3]), rand([2, 3])]],
  ["split", (a) => T.mul(T.split(a, [1, 3], 1)[1], 2), () => [rand([2, 4])]],
  ["chunk", (a) => T.chunk(a, 2, 0)[0], () => [rand([3, 2])]],
  [
    "pad",
    (a) =>
      T.pad(
        a,
        [
          [1, 2],
          [0, 1],
        ],
        3,
      ),
    () => [rand([2, 3])],
  ],
  ["reshape", (a) => T.reshape(a, [3, -1]), () => [rand([2, 3, 2])]],
  ["permute", (a) => T.permute(a, [2, 0, 1]), () => [rand([2, 3, 2])]],
  ["expand", (a) => T.expand(a, [3, 2, 4]), () => [rand([2, 1])]],
  ["squeeze/unsqueeze", (a) => T.unsqueeze(T.squeeze(a, 1), 0), () => [rand([3, 1, 2])]],
  [
    "slice with steps",
    (a) =>
      T.slice(a, [
        [1, null],
        [0, null, 2],
      ]),
    () => [rand([3, 5])],
  ],
  ["select/narrow", (a) => T.add(T.select(a, 0, 1), T.narrow(a, 0, 0, 1)), () => [rand([3, 4])]],
  ["contiguous of a transpose", (a) => T.contiguous(T.transpose(a)), () => [rand([3, 4])]],
  ["flip", (a) => T.flip(a, [0, 1]), () => [rand([2, 3])]],
  ["cast float16 round trip", (a) => T.cast(T.cast(a, "float16"), "float32"), () => [rand([4])]],
  // convolution and scans
  [
    "conv1d (groups, stride, dilation, padding)",
    (x, w, b) => T.conv1d(x, w, b, { stride: 2, padding: [2, 1], dilation: 2, groups: 2 }),
    () => [rand([2, 4, 9]), rand([6, 2, 3]), rand([6])],
  ],
  ["conv1d depthwise causal", (x, w) => T.conv1d(x, w, null, { groups: 3, padding: "causal" }), () => [rand([1, 3, 7]), rand([3, 1, 4])]],
  ["cumsum", (a) => T.cumsum(a, 1), () => [rand([2, 5])]],
  ["cumsum reverse exclusive", (a) => T.cumsum(a, 0, { reverse: true, exclusive: true }), () => [rand([4, 2])]],
  ["cumprod", (a) => T.cumprod(a, 1), () => [rand([2, 5], { scale: 0.8 })]],
  ["cumprod with zeros, reverse", (a) => T.cumprod(a, 0, { reverse: true }), () => [T.keep(T.tensor([0.5, 0, -1.2, 0.8]))]],
  ["cumprod exclusive", (a) => T.cumprod(a, 0, { exclusive: true }), () => [T.keep(T.tensor([0.5, 0, -1.2, 0.8]))]],
  // sorting and masks
  ["sort values", (a) => T.sort(a, 1, true).values, () => [rand([2, 5])]],
  ["topk values", (a) => T.topk(a, 2, 0).values, () => [rand([5, 2])]],
  ["triu / tril", (a) => T.add(T.triu(a, 1), T.mul(T.tril(a), 3)), () => [rand([3, 4])]],
  // losses
  ["crossEntropy", (z) => T.crossEntropy(z, T.tensor([2, 0, 1], { dtype: "int32" }), { labelSmoothing: 0.1 }), () => [rand([3, 4])]],
  ["mseLoss", (a, b) => T.mseLoss(a, b), () => [rand([3, 2]), rand([3, 2])]],
  ["dropout (fixed seed)", (a) => T.dropout(a, 0.3, { seed: 3 }), () => [rand([8])]],
];

describe("gradients match finite differences", () => {
  for (const [name, f, inputs] of cases) {
    it(name, async () => {
      const xs = inputs();
      const err = await checkGrad((...a) => weighted(f(...a)), xs);
      expect(err).toBeLessThan(2e-2);
      T.dispose(xs);
    });
  }
});

describe("autograd API", () => {
  it("grad of a polynomial and nested grad for the second derivative", () => {
    const x = T.tensor([1, -2, 3]);
    const f = (t: T.Tensor) => T.sum(T.pow(t, 3));
    const [g] = T.grad(f)(x);
    expect(g.arraySync()).toEqual([3, 12, 27]);
    const [g2] = T.grad((t: T.Tensor) => T.sum(T.grad(f)(t)[0]))(x); // d/dx sum(3x^2) = 6x
    expect(g2.arraySync()).toEqual([6, -12, 18]);
  });

  it("valueAndGrad returns the value; repeated arguments each get their gradient", () => {
    const x = T.tensor([2]);
    const { value, grads } = T.valueAndGrad((a: T.Tensor, b: T.Tensor) => T.sum(T.mul(a, b)))(x, x);
    expect(value.itemSync()).toBe(4);
    expect(grads.map((g) => g.itemSync())).toEqual([2, 2]);
    expect(grads[0]).not.toBe(grads[1]);
  });

  it("gradients() with a record of closed-over parameters", () => {
    const w = T.tensor([1, 2]);
    const b = T.tensor([0.5]);
    const { value, grads } = T.gradients(() => T.sum(T.add(T.mul(w, 3), b)), { w, b });
    expect(value.itemSync()).toBeCloseTo(10, 6);
    expect(grads.w.arraySync()).toEqual([3, 3]);
    expect(grads.b.arraySync()).toEqual([2]);
  });

  it("isRecording: true only for tensors a gradient computation tracks, and not inside a custom gradient's forward", () => {
    const x = T.tensor([1, 2, 3]);
    const c = T.tensor([4, 5, 6]);
    expect(T.isRecording([x, c])).toBe(false); // no gradient computation
    const seen: Record<string, boolean> = {};
    const inner = T.customGrad((a: T.Tensor) => {
      seen.customForward = T.isRecording([a]);
      return { value: T.mul(a, 2), grad: (dy: T.Tensor) => [T.mul(dy, 2)] };
    });
    T.grad((a: T.Tensor) => {
      seen.input = T.isRecording([a]);
      seen.constant = T.isRecording([c]);
      const h = T.mul(a, c);
      seen.derived = T.isRecording([h]);
      seen.mixed = T.isRecording([c, h]);
      seen.stopped = T.isRecording([T.stopGradient(h)]);
      return T.sum(inner(h));
    })(x);
    expect(seen).toEqual({ input: true, constant: false, derived: true, mixed: true, stopped: false, customForward: false });
    expect(T.isRecording([x])).toBe(false); // after it
  });

  it("unused inputs get zero gradients; stopGradient blocks flow", () => {
    const x = T.tensor([1, 2]);
    const y = T.tensor([5]);
    const [gx, gy] = T.grad((a: T.Tensor, _b: T.Tensor) => T.sum(T.mul(a, T.stopGradient(a))))(x, y);
    expect(gx.arraySync()).toEqual([1, 2]);
    expect(gy.arraySync()).toEqual([0]);
  });

  it("customGrad: a straight-through estimator", () => {
    const ste = T.customGrad((x: T.Tensor) => ({ value: T.round(x), grad: (dy) => [dy] }), "ste");
    const x = T.tensor([0.4, 1.6]);
    const { value, grads } = T.valueAndGrad((t: T.Tensor) => T.sum(T.mul(ste(t), T.tensor([2, 3]))))(x);
    expect(value.itemSync()).toBe(6);
    expect(grads[0].arraySync()).toEqual([2, 3]);
  });

  it("customGrad keeps forward intermediates alive for the backward pass", () => {
    const before = T.memory().numTensors;
    const op = T.customGrad((x: T.Tensor) => {
      const e = T.exp(x); // used by the backward rule
      return { value: T.sum(e), grad: (dy) => [T.mul(dy, e)] };
    });
    const x = T.tensor([0, 1]);
    const [g] = T.tidy(() => T.grad((t: T.Tensor) => op(t))(x));
    expect(g.dataSync()[1]).toBeCloseTo(Math.E, 5);
    g.dispose();
    x.dispose();
    expect(T.memory().numTensors).toBe(before);
  });

  it("customGrad hands the backward its inputs as the tape keeps them, alive after the caller disposed its handles", () => {
    const before = T.memory().numTensors;
    // y = x * w, backward reading x and w from the tape instead of a copy made in the forward
    const op = T.customGrad((x: T.Tensor, w: T.Tensor) => ({ value: T.mul(x, w), grad: (dy, [xx, ww]) => [T.mul(dy, ww), T.mul(dy, xx)] }), "mulFromTape");
    const x = T.tensor([1, 2]);
    const w = T.tensor([3, 5]);
    const [gx, gw] = T.tidy(() =>
      T.grad((a: T.Tensor, b: T.Tensor) => {
        const [a2, b2] = [T.mul(a, 1), T.mul(b, 1)]; // handles made here ...
        const y = op(a2, b2);
        a2.dispose(); // ... and disposed before the backward pass
        b2.dispose();
        return T.sum(y);
      })(x, w),
    );
    expect(gx.arraySync()).toEqual([3, 5]);
    expect(gw.arraySync()).toEqual([1, 2]);
    T.dispose([gx, gw, x, w]);
    expect(T.memory().numTensors).toBe(before);
  });

  it("customGradMulti: two outputs, either or both feeding the loss, no leaks", () => {
    const before = T.memory().numTensors;
    // values: [2x, sum(x^2)] with a hand-written backward
    const op = T.customGradMulti(
      (x: T.Tensor) => ({
        values: [T.mul(x, 2), T.reshape(T.sum(T.square(x)), [1])],
        grad: ([dA, dB]) => [T.add(T.mul(dA, 2), T.mul(T.mul(x, 2), dB))],
      }),
      "twoOut",
    );
    const x = T.tensor([1, -3]);
    const run = (useA: boolean, useB: boolean) =>
      T.tidy(() => {
        const [g] = T.grad((t: T.Tensor) => {
          const [a, b] = op(t);
          expect(a.shape).toEqual([2]);
          expect(b.shape).toEqual([1]);
          return T.add(useA ? T.sum(T.mul(a, T.tensor([1, 10]))) : 0, useB ? T.mul(T.sum(b), 3) : 0);
        })(x);
        return Array.from(g.dataSync());
      });
    expect(run(true, false)).toEqual([2, 20]);
    expect(run(false, true)).toEqual([6, -18]);
    expect(run(true, true)).toEqual([8, 2]);
    const [a, b] = op(x); // not recording: plain values
    expect(Array.from(a.dataSync())).toEqual([2, -6]);
    expect(b.itemSync()).toBe(10);
    T.dispose([a, b, x]);
    expect(T.memory().numTensors).toBe(before);
    expect(() => op(T.reshape(T.tensor([1]), [])).map((t) => t.dispose())).not.toThrow();
    expect(() => T.customGradMulti((_x: T.Tensor) => ({ values: [], grad: () => [] }))(T.tensor([1]))).toThrow(/values: Tensor\[\]/);
  });

  it("a seed gives the vector-Jacobian product of a non-scalar output", () => {
    const x = T.tensor([1, 2, 3]);
    const [g] = T.grad((t: T.Tensor) => T.mul(t, t), { seed: T.tensor([1, 0, 2]) })(x);
    expect(g.arraySync()).toEqual([2, 0, 12]);
  });

  it("clear errors: non-scalar output, integer inputs, non-tensors", () => {
    expect(() => T.grad((t: T.Tensor) => T.mul(t, 2))(T.tensor([1, 2]))).toThrow(/grad: f returned \[2\]; it must return a scalar/);
    expect(() => T.grad((t: T.Tensor) => T.sum(t))(T.tensor([1], { dtype: "int32" }))).toThrow(/grad: argument 0 is int32 \[1\]: gradients need float tensors/);
    expect(() => T.grad((t: T.Tensor) => t)(3 as unknown as T.Tensor)).toThrow(/argument 0 is not a Tensor/);
  });

  it("gradients flow into float16 parameters with their dtype", () => {
    const x = T.tensor([1, 2], { dtype: "float16" });
    const [g] = T.grad((t: T.Tensor) => T.sum(T.mul(T.cast(t, "float32"), 3)))(x);
    expect(g.dtype).toBe("float16");
    expect(g.arraySync()).toEqual([3, 3]);
  });
});

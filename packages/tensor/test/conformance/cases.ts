/**
 * The conformance cases: every op, on every backend, against the cpu backend. Each case builds
 * its inputs on backend `b` (host-generated seeded data, identical everywhere) and returns the
 * tensors to compare. Tolerances are per case; the default is atol = rtol = 1e-5.
 */
import * as T from "../../src/index";

export interface Case {
  name: string;
  run: (b: string) => T.Tensor | T.Tensor[];
  atol?: number;
  rtol?: number;
}

let seed = 1000;
/** Called before each run so both backends see the same inputs. */
export function resetSeed(): void {
  seed = 1000;
}
const rn = (b: string, shape: number[], scale = 1) => T.mul(T.normal(shape, 0, scale, { seed: seed++, backend: b }), 1);
const un = (b: string, shape: number[], lo: number, hi: number) => T.uniform(shape, lo, hi, { seed: seed++, backend: b });
const ints = (b: string, shape: number[], lo: number, hi: number) => T.randint(lo, hi, shape, { seed: seed++, backend: b });
const vals = (b: string, v: T.NestedArray, dtype?: T.DType) => T.tensor(v as number[], { backend: b, dtype });

/**
 * Unary ops with a case of their own below (a restricted domain, attributes, a bool output or a
 * second name); every other op of UNARY_OPS gets the plain case on normal inputs, so a new op
 * is tested on every backend without editing this file (test "every unary op has a case").
 */
export const UNARY_OWN_CASE: Record<string, string> = {
  log: "unary log / log1p / sqrt / rsqrt / reciprocal",
  log1p: "unary log / log1p / sqrt / rsqrt / reciprocal",
  sqrt: "unary log / log1p / sqrt / rsqrt / reciprocal",
  rsqrt: "unary log / log1p / sqrt / rsqrt / reciprocal",
  reciprocal: "unary log / log1p / sqrt / rsqrt / reciprocal",
  gelu: "gelu (erf and tanh), silu, softplus, elu, leakyRelu",
  gelu_tanh: "gelu (erf and tanh), silu, softplus, elu, leakyRelu",
  silu: "gelu (erf and tanh), silu, softplus, elu, leakyRelu",
  softplus: "gelu (erf and tanh), silu, softplus, elu, leakyRelu",
  elu: "gelu (erf and tanh), silu, softplus, elu, leakyRelu",
  clamp: "clamp, isnan, isinf, logicalNot",
  isnan: "clamp, isnan, isinf, logicalNot",
  isinf: "clamp, isnan, isinf, logicalNot",
  not: "clamp, isnan, isinf, logicalNot",
};
export const UNARY = T.UNARY_OPS.filter((op) => !(op in UNARY_OWN_CASE));

export const CASES: Case[] = [
  // --- creation and casts ---
  {
    name: "full / zeros / ones / eye / linspace",
    run: (b) => [
      T.full([3, 5], 2.5, { backend: b }),
      T.zeros([4], { backend: b, dtype: "int32" }),
      T.ones([2, 2], { backend: b, dtype: "bool" }),
      T.eye(3, 4, { backend: b }),
      T.linspace(-1, 1, 7, { backend: b }),
    ],
  },
  { name: "arange int and float", run: (b) => [T.arange(0, 10, 3, { backend: b }), T.arange(0, 1, 0.25, { backend: b })] },
  {
    name: "cast float -> f16 / bf16 (RNE) -> float",
    run: (b) => {
      const x = rn(b, [64], 100);
      return [T.cast(x, "float16"), T.cast(x, "bfloat16"), T.cast(T.cast(x, "float16"), "float32")];
    },
  },
  {
    name: "cast float -> int32 / int8 / uint8 / bool",
    run: (b) => {
      const x = vals(b, [-2.7, -0.5, 0, 0.4, 3.9, 300.2]);
      return [T.cast(x, "int32"), T.cast(x, "bool"), T.cast(T.cast(x, "int32"), "int8"), T.cast(T.cast(x, "int32"), "uint8")];
    },
  },
  { name: "full int8 wraps", run: (b) => T.full([3], 300, { dtype: "int8", backend: b }) },
  // --- elementwise ---
  ...UNARY.map(
    (op): Case => ({ name: `unary ${op}`, run: (b) => (T as unknown as Record<string, (x: T.Tensor) => T.Tensor>)[op](T.mul(rn(b, [5, 37]), 2)), atol: 2e-6, rtol: 2e-5 }),
  ),
  {
    name: "unary log / log1p / sqrt / rsqrt / reciprocal",
    run: (b) => {
      const x = un(b, [300], 0.01, 5);
      return [T.log(x), T.log1p(x), T.sqrt(x), T.rsqrt(x), T.reciprocal(x)];
    },
    rtol: 2e-5,
  },
  {
    name: "gelu (erf and tanh), silu, softplus, elu, leakyRelu",
    run: (b) => {
      const x = T.mul(rn(b, [400]), 3);
      return [T.gelu(x), T.gelu(x, "tanh"), T.silu(x), T.softplus(x, 2, 5), T.elu(x, 0.7), T.leakyRelu(x, 0.1)];
    },
    atol: 3e-6,
    rtol: 2e-5,
  },
  {
    name: "clamp, isnan, isinf, logicalNot",
    run: (b) => {
      const x = vals(b, [NaN, -Infinity, -2, 0, 0.5, 3, Infinity]);
      return [T.clamp(x, -1, 1), T.isnan(x), T.isinf(x), T.logicalNot(x)];
    },
  },
  {
    name: "int unary: neg, abs, relu, sign, square",
    run: (b) => {
      const x = ints(b, [50], -100, 100);
      return [T.neg(x), T.abs(x), T.relu(x), T.sign(x), T.square(x)];
    },
  },
  {
    name: "binary arithmetic with broadcasting",
    run: (b) => {
      const x = rn(b, [3, 1, 5]);
      const y = rn(b, [4, 5]);
      return [T.add(x, y), T.sub(x, y), T.mul(x, y), T.maximum(x, y), T.minimum(x, y), T.atan2(x, y)];
    },
    rtol: 2e-5,
  },
  {
    name: "div, mod, pow",
    run: (b) => {
      const x = rn(b, [6, 7], 3);
      const y = un(b, [7], 0.5, 2);
      const p = un(b, [6, 7], 0.1, 3);
      return [T.div(x, y), T.mod(x, y), T.mod(x, T.neg(y)), T.pow(p, x), T.pow(vals(b, [-2, -2, 0, 0, 3]), vals(b, [3, 2, 0, -1, 0.5]))];
    },
    rtol: 2e-5,
    atol: 2e-5,
  },
  {
    name: "comparisons and logical ops",
    run: (b) => {
      const x = T.round(rn(b, [40]));
      const y = T.round(rn(b, [40]));
      return [T.eq(x, y), T.ne(x, y), T.lt(x, y), T.le(x, y), T.gt(x, y), T.ge(x, y), T.logicalAnd(x, y), T.logicalOr(x, y), T.logicalXor(x, y)];
    },
  },
  {
    name: "integer arithmetic (int32, int8 wrap)",
    run: (b) => {
      const x = ints(b, [30], -50, 50);
      const y = ints(b, [30], 1, 20);
      const i8 = T.cast(x, "int8");
      return [T.add(x, y), T.mul(x, y), T.mod(x, y), T.maximum(x, y), T.add(T.mul(i8, 3), i8), T.div(x, y)];
    },
  },
  { name: "maximum/minimum propagate NaN", run: (b) => [T.maximum(vals(b, [NaN, 1, 2]), vals(b, [0, NaN, 1])), T.minimum(vals(b, [NaN, 1, 2]), vals(b, [0, NaN, 1]))] },
  { name: "where with broadcasting", run: (b) => T.where(T.gt(rn(b, [4, 1]), 0), rn(b, [4, 6]), rn(b, [6])) },
  {
    name: "ops on strided and broadcast views",
    run: (b) => {
      const x = rn(b, [6, 8]);
      return [
        T.add(T.transpose(x), 1),
        T.exp(
          T.slice(x, [
            [1, null, 2],
            [0, null, 3],
          ]),
        ),
        T.mul(T.expand(rn(b, [1, 8]), [5, 8]), T.narrow(x, 0, 1, 5)),
      ];
    },
  },
  {
    name: "float16 and bfloat16 arithmetic rounds each result",
    run: (b) => {
      const h = T.cast(vals(b, [1, 2048, 0.1, 65504]), "float16");
      const bf = T.cast(vals(b, [1, 3.14159, 1e30]), "bfloat16");
      return [T.add(h, 1), T.mul(h, 3), T.exp(bf), T.add(h, T.cast(vals(b, [0.5, 0.5, 0.5, 0.5]), "bfloat16"))];
    },
  },
  // --- half-precision storage (packed two per word on webgpu): layouts, views, writes, every op family ---
  {
    name: "half storage: odd sizes and special values (NaN, inf, subnormal, -0, overflow)",
    run: (b) => {
      const x = vals(b, [NaN, Infinity, -Infinity, 6e-8, -0, 65520, 1e-40, 3.3e38, -7.5e-6]);
      const h = T.cast(x, "float16");
      const bf = T.cast(x, "bfloat16");
      return [h, bf, T.cast(h, "float32"), T.cast(bf, "float32"), T.cast(h, "bfloat16"), T.cast(bf, "float16"), T.cast(T.cast(vals(b, [1.5, -2.5, 300, 0]), "float16"), "int32")];
    },
  },
  {
    name: "half storage: full / zeros / ones at odd sizes",
    run: (b) => [
      T.full([5], 0.1, { dtype: "float16", backend: b }),
      T.full([3], -1e5, { dtype: "float16", backend: b }),
      T.zeros([7], { dtype: "bfloat16", backend: b }),
      T.ones([2, 3], { dtype: "bfloat16", backend: b }),
    ],
  },
  {
    name: "half storage: strided views, odd offsets, transposes",
    run: (b) => {
      const h = T.cast(rn(b, [5, 7]), "float16");
      const bf = T.cast(rn(b, [4, 9]), "bfloat16");
      return [
        T.add(T.transpose(h), 1),
        T.exp(
          T.slice(h, [
            [1, null, 2],
            [1, null, 3],
          ]),
        ),
        T.contiguous(T.narrow(h, 1, 1, 5)),
        T.cast(
          T.slice(bf, [
            [1, 3],
            [3, 8],
          ]),
          "float32",
        ),
        T.mul(
          T.expand(T.slice(h, [[2, 3]]), [3, 7]),
          T.sum(
            T.reshape(
              T.transpose(
                T.slice(h, [
                  [0, 5],
                  [0, 3],
                ]),
              ),
              [3, 5],
            ),
            1,
            { keepdims: true },
          ),
        ),
      ];
    },
    atol: 2e-3,
    rtol: 1e-3,
  },
  {
    name: "half storage: writes into packed buffers (concat, stack, pad at odd widths)",
    run: (b) => {
      const h = T.cast(rn(b, [3, 5]), "float16");
      const g = T.cast(rn(b, [3, 2]), "float16");
      const bf = T.cast(rn(b, [3]), "bfloat16");
      return [
        T.concat([h, g, h], 1),
        T.stack([g, T.neg(g)], 2),
        T.pad(
          h,
          [
            [1, 0],
            [2, 1],
          ],
          0.5,
        ),
        T.concat([bf, T.cast(h.reshape([15]), "bfloat16")], 0),
        T.concat([h, T.transpose(T.cast(rn(b, [3, 3]), "float16"))], 1),
      ];
    },
  },
  {
    name: "half storage: matmul and linear with half operands (batched, transposed, odd K)",
    run: (b) => {
      const x = T.cast(rn(b, [2, 5, 13]), "float16");
      const w = T.cast(rn(b, [7, 13]), "float16");
      const bias = T.cast(rn(b, [7]), "float16");
      const bx = T.cast(rn(b, [9, 33]), "bfloat16");
      return [
        T.matmul(x, T.transpose(w)),
        T.linear(x, w, bias),
        T.matmul(bx, T.transpose(bx)),
        T.matmul(
          T.transpose(T.cast(rn(b, [13, 3]), "float16")),
          T.slice(w, [
            [0, 7],
            [0, 13],
          ]).transpose(),
        ),
      ];
    },
    atol: 4e-3,
    rtol: 2e-3,
  },
  {
    name: "mixed float matmul (float32 x float16 / bfloat16) and its gradients",
    run: (b) => {
      const x = rn(b, [3, 2, 21]);
      const w = T.cast(rn(b, [9, 21]), "float16");
      const v = T.cast(rn(b, [21, 5]), "bfloat16");
      const [gx, gw] = T.grad((p: T.Tensor, q: T.Tensor) => T.sum(T.square(T.linear(p, q))))(x, w);
      return [T.linear(x, w), T.matmul(T.transpose(v), T.transpose(T.reshape(x, [6, 21]))), gx, gw];
    },
    atol: 2e-4,
    rtol: 1e-3,
  },
  {
    name: "half storage: softmax, norms, reductions, scans, sort, gather, where, conv1d",
    run: (b) => {
      const h = T.cast(T.mul(rn(b, [3, 40]), 2), "float16");
      const bf = T.cast(rn(b, [2, 6, 9]), "bfloat16");
      const w = T.cast(rn(b, [40]), "float16");
      const s = T.sort(h, -1);
      const t = T.topk(bf, 3, 2);
      return [
        T.softmax(h),
        T.logSoftmax(bf),
        T.layerNorm(h, w, w),
        T.rmsNorm(h, w),
        T.sum(h, 1),
        T.max(bf, [0, 2]),
        T.argmax(h, 1),
        T.cumsum(h, 1),
        s.values,
        s.indices,
        t.values,
        t.indices,
        T.gather(h, 1, ints(b, [3, 4], 0, 40)),
        T.indexSelect(bf, 1, vals(b, [5, 0], "int32")),
        T.where(T.gt(h, 0), h, T.neg(h)),
        T.conv1d(bf, T.cast(rn(b, [4, 3, 3]), "bfloat16"), null, { groups: 2, padding: 1 }),
        T.scatterAdd(T.cast(T.zeros([2, 40], { backend: b }), "float16"), 0, ints(b, [3, 40], 0, 2), h),
      ];
    },
    atol: 2e-2,
    rtol: 1e-2,
  },
  {
    name: "half storage: gradients through a float16 layer",
    run: (b) => {
      const x = T.cast(rn(b, [4, 6]), "float16");
      const w = T.cast(rn(b, [5, 6], 0.5), "float16");
      return T.grad((a: T.Tensor) => T.sum(T.square(T.gelu(T.linear(x, a)))))(w);
    },
    atol: 2e-2,
    rtol: 1e-2,
  },
  // --- reductions ---
  {
    name: "sum / mean / prod / max / min over axes (short)",
    run: (b) => {
      const x = rn(b, [3, 4, 5]);
      return [T.sum(x, [0, 2]), T.mean(x, 1), T.prod(T.mul(x, 0.5), -1), T.max(x, 1), T.min(x), T.sum(T.transpose(x, 0, 2), [0, 2], { keepdims: true })];
    },
    rtol: 1e-5,
    atol: 1e-5,
  },
  {
    name: "long reductions (workgroup tree)",
    run: (b) => {
      const x = rn(b, [3, 3000]);
      return [T.sum(x, 1), T.mean(x), T.max(x, 1), T.min(T.transpose(x), 0), T.logsumexp(x, 1), T.sum(rn(b, [700, 2]), 0)];
    },
    atol: 1e-4,
    rtol: 1e-5,
  },
  {
    name: "integer and bool reductions",
    run: (b) => {
      const i = ints(b, [4, 300], -5, 5);
      const m = T.gt(rn(b, [3, 5]), 0);
      return [T.sum(i, 1), T.max(i), T.prod(T.clamp(ints(b, [4, 3], -2, 3), -2, 2), 1), T.any(m, 1), T.all(m, 0), T.sum(m)];
    },
  },
  {
    name: "max/min propagate NaN; empty reductions",
    run: (b) => [
      T.max(
        vals(b, [
          [1, NaN, 3],
          [1, 2, 3],
        ]),
        1,
      ),
      T.sum(T.zeros([0, 3], { backend: b }), 0),
      T.prod(T.zeros([2, 0], { backend: b }), 1),
    ],
  },
  {
    name: "argmax / argmin (ties keep the first, NaN wins)",
    run: (b) => {
      const x = T.round(T.mul(rn(b, [6, 500]), 2));
      return [
        T.argmax(x, 1),
        T.argmin(x, 0),
        T.argmax(vals(b, [1, 3, 3, NaN, 3])),
        T.argmin(
          vals(b, [
            [2, 1, 1],
            [0, 0, 5],
          ]),
          1,
        ),
        T.argmax(x),
      ];
    },
  },
  {
    name: "variance / std",
    run: (b) => {
      const x = rn(b, [5, 40]);
      return [T.variance(x, 1), T.std(x, [0, 1], { correction: 0 })];
    },
    rtol: 2e-5,
  },
  // --- matmul ---
  { name: "matmul batched with broadcast batch dims", run: (b) => T.matmul(rn(b, [2, 1, 7, 9]), rn(b, [3, 9, 5])), atol: 2e-5 },
  {
    name: "matmul ragged tiles and transposed views",
    run: (b) => {
      const x = rn(b, [70, 130]);
      const y = rn(b, [66, 130]);
      return [T.matmul(x, T.transpose(y)), T.matmul(T.transpose(T.transpose(x)), rn(b, [130, 3]))];
    },
    atol: 1e-4,
    rtol: 1e-5,
  },
  {
    name: "matmul 1-D and integer",
    run: (b) => [
      T.matmul(rn(b, [5]), rn(b, [5, 4])),
      T.matmul(rn(b, [3, 5]), rn(b, [5])),
      T.matmul(T.cast(ints(b, [4, 6], -100, 100), "int8"), T.cast(ints(b, [6, 3], -100, 100), "int8")),
    ],
    atol: 2e-5,
  },
  {
    name: "matmul with 1-4 rows (decoding): weight rows and row-major layouts, batched, ragged K and N, strided A, halves",
    run: (b) => {
      const w = rn(b, [77, 300]);
      const x = rn(b, [4, 300]);
      return [
        T.linear(T.slice(x, [[0, 1]]), w),
        T.linear(x, w),
        T.matmul(T.slice(x, [[1, 4]]), rn(b, [300, 70])),
        T.matmul(rn(b, [2, 4, 50]), rn(b, [2, 50, 9])),
        T.matmul(T.transpose(rn(b, [33, 2])), rn(b, [33, 1000])),
        T.linear(T.slice(x, [[0, 2]]), T.cast(w, "float16")),
        T.cast(T.linear(T.cast(T.slice(x, [[2, 3]]), "bfloat16"), T.cast(w, "bfloat16")), "float32"),
        T.matmul(rn(b, [3, 0]), rn(b, [0, 4])),
      ];
    },
    atol: 1e-4,
    rtol: 1e-5,
  },
  { name: "linear", run: (b) => T.linear(rn(b, [2, 3, 8]), rn(b, [5, 8]), rn(b, [5])), atol: 2e-5 },
  // --- normalization ---
  {
    name: "softmax / logSoftmax (last and middle axis, long rows)",
    run: (b) => {
      const x = T.mul(rn(b, [2, 3, 700]), 3);
      return [T.softmax(x), T.logSoftmax(x), T.softmax(x, 1), T.softmax(T.mul(rn(b, [4, 9]), 1e4))];
    },
    atol: 2e-6,
    rtol: 2e-5,
  },
  {
    name: "softmax of a fully masked row is NaN",
    run: (b) =>
      T.softmax(
        vals(b, [
          [-Infinity, -Infinity],
          [0, -Infinity],
        ]),
      ),
  },
  {
    name: "layerNorm (affine, none, weight only) and rmsNorm",
    run: (b) => {
      const x = rn(b, [3, 5, 300]);
      const w = rn(b, [300]);
      const bb = rn(b, [300]);
      return [T.layerNorm(x, w, bb), T.layerNorm(x), T.layerNorm(T.transpose(rn(b, [300, 4])), w, null, 1e-3), T.rmsNorm(x, w, 1e-5), T.rmsNorm(x)];
    },
    atol: 2e-5,
    rtol: 2e-5,
  },
  // --- indexing ---
  {
    name: "gather / indexSelect / embedding",
    run: (b) => {
      const x = rn(b, [5, 6]);
      const gi = ints(b, [3, 6], 0, 5);
      return [
        T.gather(x, 0, gi),
        T.indexSelect(x, 1, vals(b, [5, 0, 4], "int32")),
        T.embedding(rn(b, [10, 4]), ints(b, [2, 3], 0, 10)),
        T.gather(T.transpose(x), 1, ints(b, [6, 2], 0, 5)),
      ];
    },
  },
  {
    name: "scatterAdd (float and int, repeated indices)",
    run: (b) => [
      T.scatterAdd(rn(b, [4, 6]), 0, ints(b, [5, 6], 0, 4), rn(b, [5, 6])),
      T.scatterAdd(T.zeros([3], { backend: b, dtype: "int32" }), 0, vals(b, [0, 2, 2, 2], "int32"), vals(b, [1, 2, 3, 4], "int32")),
    ],
    atol: 1e-5,
  },
  { name: "oneHot and flip", run: (b) => [T.oneHot(vals(b, [0, 3, 1], "int32"), 4), T.flip(rn(b, [3, 4]), [0, 1])] },
  // --- joining ---
  {
    name: "concat / stack / split / pad",
    run: (b) => {
      const x = rn(b, [2, 3]);
      const y = rn(b, [2, 4]);
      return [
        T.concat([x, y], 1),
        T.stack([x, T.neg(x)], 1),
        ...T.split(T.arange(10, undefined, 1, { backend: b }), [3, 7]),
        T.pad(
          x,
          [
            [1, 2],
            [0, 3],
          ],
          -1,
        ),
        T.concat([T.cast(x, "int32"), y], 1),
      ];
    },
  },
  // --- conv and scans ---
  {
    name: "conv1d (groups, stride, dilation, padding)",
    run: (b) => T.conv1d(rn(b, [2, 4, 11]), rn(b, [6, 2, 3]), rn(b, [6]), { stride: 2, padding: [1, 2], dilation: 2, groups: 2 }),
    atol: 1e-5,
  },
  {
    name: "conv1d depthwise causal, strided input",
    run: (b) => T.conv1d(T.transpose(rn(b, [2, 9, 5]), 1, 2), rn(b, [5, 1, 4]), null, { groups: 5, padding: "causal" }),
    atol: 1e-5,
  },
  {
    name: "cumsum / cumprod (reverse, exclusive, int)",
    run: (b) => {
      const x = rn(b, [3, 50]);
      return [
        T.cumsum(x, 1),
        T.cumsum(x, 0, { reverse: true }),
        T.cumsum(x, 1, { exclusive: true }),
        T.cumprod(T.mul(x, 0.3), 1, { reverse: true, exclusive: true }),
        T.cumsum(ints(b, [4, 5], -3, 3), 1),
      ];
    },
    atol: 2e-5,
    rtol: 2e-5,
  },
  // --- sorting ---
  {
    name: "sort (stable, ties, NaN) and argsort",
    run: (b) => {
      const x = T.round(T.mul(rn(b, [4, 37]), 2));
      const s = T.sort(x, -1, true);
      const a = T.sort(vals(b, [3, NaN, 1, 3, -1]), 0);
      return [s.values, s.indices, a.values, a.indices, T.argsort(x, 0)];
    },
  },
  {
    name: "topk (largest and smallest, middle axis)",
    run: (b) => {
      const x = rn(b, [3, 20, 2]);
      const t = T.topk(x, 5, 1);
      const s = T.topk(x, 3, 1, false);
      return [t.values, t.indices, s.values, s.indices];
    },
  },
  // --- masks, losses, random ---
  {
    name: "triu / tril",
    run: (b) => {
      const x = rn(b, [2, 4, 5]);
      return [T.triu(x, 1), T.tril(x, -1)];
    },
  },
  {
    name: "crossEntropy with ignoreIndex and label smoothing",
    run: (b) => T.crossEntropy(rn(b, [6, 9]), vals(b, [1, 8, -100, 0, 3, 3], "int32"), { labelSmoothing: 0.1 }),
    atol: 2e-6,
  },
  {
    name: "random tensors: same seed, same values on every backend",
    run: (b) => [
      T.normal([100], 0, 1, { seed: 5, backend: b }),
      T.uniform([100], -1, 1, { seed: 6, backend: b }),
      T.randint(0, 9, [100], { seed: 7, backend: b }),
      T.dropout(T.ones([200], { backend: b }), 0.3, { seed: 8 }),
    ],
  },
  // --- autograd on the backend ---
  {
    name: "gradients of an MLP loss",
    run: (b) => {
      const x = rn(b, [8, 6]);
      const w1 = rn(b, [16, 6], 0.3);
      const w2 = rn(b, [4, 16], 0.3);
      const y = ints(b, [8], 0, 4);
      return T.grad((a: T.Tensor, c: T.Tensor) => T.crossEntropy(T.linear(T.gelu(T.layerNorm(T.linear(x, a))), c), y))(w1, w2);
    },
    atol: 1e-5,
    rtol: 1e-4,
  },
];

CASES.push({ name: "where with two numbers follows the condition's backend", run: (b) => T.where(T.gt(rn(b, [5]), 0), 0, -Infinity) });

// --- vision ---
{
  /** Gradients of sum(f(...) * r) with respect to every input (r drawn after the output shape is known). */
  const vjp = (b: string, fn: (...xs: T.Tensor[]) => T.Tensor, ...xs: T.Tensor[]): T.Tensor[] => {
    const y = fn(...xs);
    const r = rn(b, [...y.shape]);
    return [y, ...T.grad((...ps: T.Tensor[]) => T.sum(T.mul(fn(...ps), r)))(...xs)];
  };
  CASES.push(
    {
      name: "vision: conv2d (stride, padding, dilation, groups, bias) and gradients",
      run: (b) => vjp(b, (x, w, c) => T.conv2d(x, w, c, { stride: 2, padding: 1, dilation: 2, groups: 2 }), rn(b, [2, 4, 9, 10]), rn(b, [6, 2, 3, 3]), rn(b, [6])),
    },
    {
      name: "vision: conv2d padding 'same' (even kernel), strided view input",
      run: (b) => [
        T.conv2d(T.transpose(rn(b, [1, 3, 8, 7]), 2, 3), rn(b, [4, 3, 4, 2]), rn(b, [4]), { padding: "same", dilation: [1, 2] }),
        T.conv2d(rn(b, [2, 2, 6, 7]), rn(b, [3, 2, 2, 3]), null, { stride: [1, 2], padding: [2, 1] }),
      ],
    },
    {
      name: "vision: convTranspose2d (stride, padding, outputPadding, groups, dilation) and gradients",
      run: (b) => [
        ...vjp(b, (x, w, c) => T.convTranspose2d(x, w, c, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }), rn(b, [2, 4, 5, 6]), rn(b, [4, 3, 3, 3]), rn(b, [6])),
        T.convTranspose2d(rn(b, [1, 2, 4, 5]), rn(b, [2, 3, 3, 2]), null, { stride: [2, 1], padding: [2, 1], outputPadding: [1, 0], dilation: 2 }),
      ],
    },
    {
      name: "vision: upsample nearest / bilinear (alignCorners both) and gradients",
      run: (b) => {
        const x = rn(b, [2, 3, 5, 6]);
        return [
          ...vjp(b, (t) => T.upsample(t, { size: [7, 9] }), x),
          ...vjp(b, (t) => T.upsample(t, { scaleFactor: 2, mode: "bilinear" }), x),
          ...vjp(b, (t) => T.upsample(t, { size: [7, 9], mode: "bilinear", alignCorners: true }), x),
          T.upsample(x, { size: [3, 4], mode: "bilinear" }),
        ];
      },
    },
    {
      name: "vision: avgPool2d (countIncludePad, ceilMode) and gradients",
      run: (b) => {
        const x = rn(b, [2, 3, 9, 8]);
        return [
          ...vjp(b, (t) => T.avgPool2d(t, 3, { stride: 2, padding: 1 }), x),
          ...vjp(b, (t) => T.avgPool2d(t, 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true }), x),
        ];
      },
    },
    {
      name: "vision: maxPool2d values, indices and gradients (padding, dilation, ceilMode)",
      run: (b) => {
        const x = rn(b, [2, 3, 9, 8]);
        const p = T.maxPool2d(x, 2, { stride: 2, padding: 1, dilation: 2, ceilMode: true, returnIndices: true });
        return [p.values, p.indices, ...vjp(b, (t) => T.maxPool2d(t, 3, { stride: 2, padding: 1 }), x)];
      },
    },
    {
      name: "vision: groupNorm and batchNorm (train with running-stat update, eval) and gradients",
      run: (b) => {
        const rm = rn(b, [3], 0.1);
        const rv = un(b, [3], 0.5, 1.5);
        const x = T.add(T.mul(rn(b, [4, 3, 5, 6]), 2), 0.5);
        const w = rn(b, [3]);
        const c = rn(b, [3]);
        const train = T.batchNorm(x, rm, rv, w, c, { training: true });
        return [
          ...vjp(b, (t, g, h) => T.groupNorm(t, 3, g, h), rn(b, [2, 6, 5, 4]), rn(b, [6]), rn(b, [6])),
          train,
          rm,
          rv,
          T.batchNorm(x, rm, rv, w, c),
          ...vjp(b, (t, g, h) => T.batchNorm(t, null, null, g, h, { training: true }), x, w, c),
        ];
      },
    },
    {
      name: "vision: pixelShuffle / pixelUnshuffle and gradients",
      run: (b) => [...vjp(b, (t) => T.pixelShuffle(t, 2), rn(b, [2, 8, 3, 4])), ...vjp(b, (t) => T.pixelUnshuffle(t, 2), rn(b, [2, 3, 6, 8]))],
    },
    {
      name: "vision: unfold / fold and gradients",
      run: (b) => {
        const o = { dilation: [1, 2], padding: [1, 0], stride: [2, 1] } as const;
        return [...vjp(b, (t) => T.unfold(t, [3, 2], o), rn(b, [2, 3, 7, 8])), ...vjp(b, (t) => T.fold(t, [7, 8], [3, 2], o), rn(b, [2, 18, 24]))];
      },
    },
  );
}

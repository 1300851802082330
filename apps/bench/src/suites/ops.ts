/**
 * Memory-bound row ops on [8, 1024, 1024] float32 (32 MiB in, 32 MiB out; `--full`:
 * [64, 1024, 1024], 256 MiB each way): softmax and layerNorm over the last axis, and GELU (erf
 * form). Throughput counts input + output bytes. The default run leaves tfjs-cpu (pure JS, seconds
 * per run here) out; `--quick` and `--full` keep it. Then the per-op dispatch overhead: a chain of
 * tiny adds (ops-dispatch.ts).
 */
import { gelu, layerNorm, normal, ones, softmax, tensor, zeros } from "@tessera/tensor";
import type { Attr } from "../anchors/ort";
import type { tf as TF } from "../anchors/tfjs";
import { ortImpl, plainImpl, tesseraImpl, tfImpls } from "../impls";
import { runCase } from "../run-impls";
import { DISPATCH_CASE, DISPATCH_IMPLS, dispatchImpls } from "./ops-dispatch";
import type { Tier } from "../harness";
import type { Impl, Suite } from "../suite";

/** Rows of 1024: 8M values (32 MiB, well beyond the caches) by default, 64M (256 MiB) with --full. */
const SHAPES: Record<Tier, number[]> = { quick: [4, 64, 256], default: [8, 1024, 1024], full: [64, 1024, 1024] };
/** tfjs-cpu (pure JS, seconds per run at these sizes) runs in the quick and full grids only. */
const TFJS_CPU: Record<Tier, boolean> = { quick: true, default: false, full: true };
const OPS = ["softmax", "layerNorm", "gelu"] as const;
const implNames = (tier: Tier) => ["tessera", "onnxruntime-node", "tfjs-wasm", ...(TFJS_CPU[tier] ? ["tfjs-cpu"] : []), "plain-js"];

type OpName = "softmax" | "layerNorm" | "gelu";

// --- plain JS: what a user writes by hand ------------------------------------------------------
function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): the usual hand-written choice.
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

function plain(op: OpName, x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  if (op === "gelu") {
    for (let i = 0; i < x.length; i++) out[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2));
    return out;
  }
  for (let r = 0; r < x.length; r += d) {
    if (op === "softmax") {
      let m = -Infinity;
      for (let i = 0; i < d; i++) m = Math.max(m, x[r + i]);
      let s = 0;
      for (let i = 0; i < d; i++) s += out[r + i] = Math.exp(x[r + i] - m);
      for (let i = 0; i < d; i++) out[r + i] /= s;
    } else {
      let mu = 0;
      for (let i = 0; i < d; i++) mu += x[r + i];
      mu /= d;
      let v = 0;
      for (let i = 0; i < d; i++) v += (x[r + i] - mu) ** 2;
      const rstd = 1 / Math.sqrt(v / d + 1e-5);
      for (let i = 0; i < d; i++) out[r + i] = (x[r + i] - mu) * rstd;
    }
  }
  return out;
}

function tfOp(tf: typeof TF, op: OpName, x: ReturnType<typeof TF.tensor>, d: number): ReturnType<typeof TF.tensor> {
  if (op === "softmax") return tf.softmax(x, -1);
  if (op === "gelu") return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)); // tfjs has no gelu op
  const { mean, variance } = tf.moments(x, -1, true);
  const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(xhat, tf.ones([d])), tf.zeros([d])); // weight 1, bias 0, as the others
}

function impls(op: OpName, shape: number[], x: Float32Array, backend: string, tfjsCpu: boolean): Impl[] {
  const d = shape[shape.length - 1];
  const onnx: Record<OpName, { op: string; inputs: string[]; attrs?: Attr[] }> = {
    softmax: { op: "Softmax", inputs: ["x"], attrs: [{ name: "axis", int: -1 }] },
    layerNorm: {
      op: "LayerNormalization",
      inputs: ["x", "w", "b"],
      attrs: [
        { name: "axis", int: -1 },
        { name: "epsilon", float: 1e-5 },
      ],
    },
    gelu: { op: "Gelu", inputs: ["x"] },
  };
  const spec = onnx[op];
  const feeds: Record<string, Float32Array> = op === "layerNorm" ? { x, w: new Float32Array(d).fill(1), b: new Float32Array(d) } : { x };
  return [
    tesseraImpl(backend, () => {
      const tx = tensor(x, { shape, backend });
      const tw = ones([d], { backend });
      const tb = zeros([d], { backend });
      const f = op === "softmax" ? () => softmax(tx, -1) : op === "gelu" ? () => gelu(tx) : () => layerNorm(tx, tw, tb, 1e-5);
      return { inputs: [tx, tw, tb], op: f };
    }),
    ortImpl(
      {
        opset: 20,
        nodes: [{ op: spec.op, inputs: spec.inputs, outputs: ["y"], attrs: spec.attrs }],
        inputs: spec.inputs.map((n) => [n, n === "x" ? shape : [d]] as [string, number[]]),
        outputs: [["y", shape]],
      },
      feeds,
    ),
    ...tfImpls(
      (tf) => {
        const tx = tf.tensor(x, shape);
        return { inputs: [tx], op: () => tfOp(tf, op, tx, d) };
      },
      tfjsCpu ? ["wasm", "cpu"] : ["wasm"],
    ),
    plainImpl(() => plain(op, x, d)),
  ];
}

export const opsSuite: Suite = {
  name: "ops",
  description:
    "softmax, layerNorm, gelu on float32 rows of 1024, [8,1024,1024] (--full: [64,1024,1024]) (GB/s of input + output); per-op dispatch overhead (1000 chained tiny adds)",
  plan: ({ tier }) => [
    ...OPS.flatMap((op) => implNames(tier).map((impl) => ({ case: `${op} [${SHAPES[tier].join(",")}]`, impl }))),
    ...DISPATCH_IMPLS.map((impl) => ({ case: DISPATCH_CASE, impl })),
  ],
  async run(ctx) {
    const shape = SHAPES[ctx.tier];
    const size = shape.reduce((a, b) => a * b, 1);
    const x = normal(shape, 0, 1, { seed: 11, backend: "cpu" });
    const xs = (await x.data()) as Float32Array;
    x.dispose();
    const rows = [];
    for (const op of OPS) {
      rows.push(
        ...(await runCase(ctx, {
          suite: "ops",
          name: `${op} [${shape.join(",")}]`,
          impls: impls(op, shape, xs, ctx.backend, TFJS_CPU[ctx.tier]),
          bytes: 2 * 4 * size,
          tolerance: 1e-4,
        })),
      );
    }
    // Float32 sums in the same order everywhere: identical up to rounding of the wasm/JS paths.
    rows.push(...(await runCase(ctx, { suite: "ops", name: DISPATCH_CASE, impls: dispatchImpls(ctx.backend), tolerance: 1e-3 })));
    return rows;
  },
};

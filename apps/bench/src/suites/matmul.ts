/**
 * float32 square matmul: Tessera against onnxruntime-node, tfjs (wasm, cpu) and a textbook
 * triple loop, at n = 256, 512, 1024.
 */
import { dispose, matmul, normal, tensor, tidy, type Tensor } from "@tessera/tensor";
import { ortSession } from "../anchors/onnx";
import { useTf } from "../anchors/tfjs";
import { runCase } from "../run-impls";
import type { Impl, Suite } from "../suite";

/** The textbook loop a user would write without a library. */
export function plainMatmul(a: Float32Array, b: Float32Array, n: number): Float32Array {
  const c = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

function impls(n: number, a: Float32Array, b: Float32Array, backend: string): Impl[] {
  return [
    {
      impl: "tessera",
      backend,
      async setup() {
        const ta = tensor(a, { shape: [n, n], backend });
        const tb = tensor(b, { shape: [n, n], backend });
        let last: Tensor | null = null;
        return {
          run: () => {
            last?.dispose();
            last = tidy(() => matmul(ta, tb));
          },
          result: async () => (await last!.data()) as Float32Array,
          dispose: () => dispose([ta, tb, last]),
        };
      },
    },
    {
      impl: "onnxruntime-node",
      backend: "cpu",
      async setup() {
        const s = await ortSession({ opset: 17, nodes: [{ op: "MatMul", inputs: ["a", "b"], outputs: ["y"] }], inputs: [["a", [n, n]], ["b", [n, n]]], outputs: [["y", [n, n]]] });
        let out: Float32Array = new Float32Array(0);
        return { run: async () => (out = await s.run({ a, b })), result: async () => out, dispose: () => s.release() };
      },
    },
    ...(["wasm", "cpu"] as const).map(
      (tb): Impl => ({
        impl: `tfjs-${tb}`,
        backend: tb,
        async setup() {
          const tf = await useTf(tb);
          const x = tf.tensor2d(a, [n, n]);
          const y = tf.tensor2d(b, [n, n]);
          let last: ReturnType<typeof tf.matMul> | null = null;
          return {
            run: () => {
              last?.dispose();
              last = tf.matMul(x, y);
            },
            result: async () => (await last!.data()) as Float32Array,
            dispose: () => tf.dispose([x, y, last!]),
          };
        },
      }),
    ),
    {
      impl: "plain-js",
      backend: "cpu",
      async setup() {
        let out: Float32Array = new Float32Array(0);
        return { run: () => (out = plainMatmul(a, b, n)), result: async () => out, dispose: () => undefined };
      },
    },
  ];
}

export const matmulSuite: Suite = {
  name: "matmul",
  description: "float32 square matmul (GFLOP/s)",
  async run(ctx) {
    const sizes = ctx.quick ? [64, 128] : [256, 512, 1024];
    const rows = [];
    for (const n of sizes) {
      const a = normal([n, n], 0, 1, { seed: n }).dataSync() as Float32Array;
      const b = normal([n, n], 0, 1, { seed: n + 1 }).dataSync() as Float32Array;
      rows.push(...(await runCase(ctx, { suite: "matmul", name: `${n}x${n}x${n}`, impls: impls(n, a, b, ctx.backend), flops: 2 * n ** 3, tolerance: 1e-3 * Math.sqrt(n) })));
    }
    return rows;
  },
};

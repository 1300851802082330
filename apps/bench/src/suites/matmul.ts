/**
 * float32 square matmul: Tessera against onnxruntime-node, tfjs (wasm, cpu) and a textbook
 * triple loop: n = 256, 512, 1024 (the default run leaves the two plain-JS implementations,
 * tfjs-cpu and the triple loop, out at 1024, where one run takes seconds; `--full` keeps them).
 * Where the cpu backend runs @tessera/native's GEMM, a "tessera wasm" row times its WebAssembly
 * GEMM in the same run.
 */
import { matmul, normal, tensor, type Tensor } from "@tessera/tensor";
import { cpuKernels, withWasmKernels } from "../backends";
import { ortImpl, plainImpl, tesseraImpl, tfImpls } from "../impls";
import { runCase } from "../run-impls";
import type { Tier } from "../harness";
import type { Impl, Suite } from "../suite";

const SIZES: Record<Tier, number[]> = { quick: [64, 128], default: [256, 512, 1024], full: [256, 512, 1024] };
/** The plain-JS implementations (tfjs-cpu, the triple loop) only up to this n. */
const PLAIN_MAX: Record<Tier, number> = { quick: Infinity, default: 512, full: Infinity };
const IMPLS = ["tessera", "onnxruntime-node", "tfjs-wasm"];
/** The WebAssembly GEMM beside the native one (on the cpu backend with @tessera/native's kernels). */
const WASM_ROW = "tessera wasm";
const implsOf = (backend: string) => (backend === "cpu" && cpuKernels !== "wasm" ? ["tessera", WASM_ROW, ...IMPLS.slice(1)] : IMPLS);
const SLOW = ["tfjs-cpu", "plain-js"];
const caseName = (n: number) => `${n}x${n}x${n}`;

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

function impls(n: number, a: Float32Array, b: Float32Array, backend: string, plain: boolean): Impl[] {
  // Tessera's product, run as given (the native GEMM where enabled) or on the WebAssembly kernels.
  const tesseraRow = (name: string, run: (f: () => Tensor) => Tensor) =>
    tesseraImpl(
      backend,
      () => {
        const ta = tensor(a, { shape: [n, n], backend });
        const tb = tensor(b, { shape: [n, n], backend });
        return { inputs: [ta, tb], op: () => run(() => matmul(ta, tb)) };
      },
      name,
    );
  const list = [
    tesseraRow("tessera", (f) => f()),
    ...(implsOf(backend).includes(WASM_ROW) ? [tesseraRow(WASM_ROW, withWasmKernels)] : []),
    ortImpl(
      {
        opset: 17,
        nodes: [{ op: "MatMul", inputs: ["a", "b"], outputs: ["y"] }],
        inputs: [
          ["a", [n, n]],
          ["b", [n, n]],
        ],
        outputs: [["y", [n, n]]],
      },
      { a, b },
    ),
    ...tfImpls(
      (tf) => {
        const x = tf.tensor2d(a, [n, n]);
        const y = tf.tensor2d(b, [n, n]);
        return { inputs: [x, y], op: () => tf.matMul(x, y) };
      },
      plain ? ["wasm", "cpu"] : ["wasm"],
    ),
  ];
  if (plain) list.push(plainImpl(() => plainMatmul(a, b, n)));
  return list;
}

export const matmulSuite: Suite = {
  name: "matmul",
  description: "float32 square matmul (GFLOP/s)",
  plan: ({ tier, backend }) => SIZES[tier].flatMap((n) => [...implsOf(backend), ...(n <= PLAIN_MAX[tier] ? SLOW : [])].map((impl) => ({ case: caseName(n), impl }))),
  async run(ctx) {
    const rows = [];
    for (const n of SIZES[ctx.tier]) {
      const a = normal([n, n], 0, 1, { seed: n, backend: "cpu" }).dataSync() as Float32Array;
      const b = normal([n, n], 0, 1, { seed: n + 1, backend: "cpu" }).dataSync() as Float32Array;
      rows.push(
        ...(await runCase(ctx, {
          suite: "matmul",
          name: caseName(n),
          impls: impls(n, a, b, ctx.backend, n <= PLAIN_MAX[ctx.tier]),
          flops: 2 * n ** 3,
          tolerance: 1e-3 * Math.sqrt(n),
        })),
      );
    }
    return rows;
  },
};

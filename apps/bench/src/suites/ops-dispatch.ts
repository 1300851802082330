/**
 * Per-op dispatch overhead (issue 17): the latency of a tiny op, where the arithmetic is nothing
 * and what is left is the library's cost per call (argument checks, allocation, kernel lookup,
 * bookkeeping). One run chains CHAIN element-wise adds of a [16] float32 vector, z = z + y, each
 * consuming the previous result, so the median time per run in ms is the time per op in µs
 * (x 1000 / CHAIN). onnxruntime-node runs a one-node Add graph once per op (session.run per call,
 * as a user who calls ORT op by op would); tfjs-wasm chains tf.add inside one tf.tidy; plain JS
 * loops over a Float32Array. Every result is x + CHAIN * y, cross-checked against Tessera's.
 */
import { add, tensor, type Tensor } from "@tessera/tensor";
import { ortSession } from "../anchors/ort";
import { plainImpl, tesseraImpl, tfImpls } from "../impls";
import type { Impl } from "../suite";

/** Ops per timed run: the table's ms per run is µs per op. */
export const CHAIN = 1000;
const N = 16;

export const DISPATCH_CASE = `add [${N}] x ${CHAIN} (dispatch overhead: ms per run = µs per op)`;
export const DISPATCH_IMPLS = ["tessera", "onnxruntime-node", "tfjs-wasm", "plain-js"];

export function dispatchImpls(backend: string): Impl[] {
  const x = Float32Array.from({ length: N }, (_, i) => i / N);
  const y = Float32Array.from({ length: N }, (_, i) => 1 / (i + 1));
  return [
    tesseraImpl(backend, () => {
      const tx = tensor(x, { shape: [N], backend });
      const ty = tensor(y, { shape: [N], backend });
      const op = (): Tensor => {
        let z = tx;
        for (let i = 0; i < CHAIN; i++) z = add(z, ty); // intermediates are freed by the harness's tidy
        return z;
      };
      return { inputs: [tx, ty], op };
    }),
    {
      impl: "onnxruntime-node",
      backend: "cpu",
      async setup() {
        const s = await ortSession({
          opset: 20,
          nodes: [{ op: "Add", inputs: ["x", "y"], outputs: ["z"] }],
          inputs: [
            ["x", [N]],
            ["y", [N]],
          ],
          outputs: [["z", [N]]],
        });
        let out: Float32Array = x;
        return {
          run: async () => {
            let z: Float32Array = x;
            for (let i = 0; i < CHAIN; i++) z = await s.run({ x: z, y });
            out = z;
          },
          result: async () => out,
          dispose: () => s.release(),
        };
      },
    },
    ...tfImpls(
      (tf) => {
        const tx = tf.tensor(x, [N]);
        const ty = tf.tensor(y, [N]);
        return {
          inputs: [tx, ty],
          op: () => {
            let z = tx;
            for (let i = 0; i < CHAIN; i++) z = tf.add(z, ty);
            return z;
          },
        };
      },
      ["wasm"],
    ),
    plainImpl(() => {
      let z: Float32Array = x;
      for (let i = 0; i < CHAIN; i++) {
        const next = new Float32Array(N);
        for (let j = 0; j < N; j++) next[j] = z[j] + y[j];
        z = next;
      }
      return z;
    }),
  ];
}

/**
 * The implementation factories every suite uses: Tessera on a backend, a one-node
 * onnxruntime-node graph, tfjs (wasm and cpu) and a plain-JS function. Each keeps its last
 * result for the cross-check and frees it before the next run.
 */
import { dispose, memory, ready, resetPeakMemory, tidy, type Tensor } from "@tessera/tensor";
import { ortSession, type GraphSpec } from "./anchors/ort";
import { useTf, type tf as TF } from "./anchors/tfjs";
import type { Impl } from "./suite";

type TfTensor = ReturnType<typeof TF.tensor>;

/**
 * `prepare` makes the inputs (kept across runs) and the op to time. On async backends a run
 * ends when the GPU has finished its work (not when the op was enqueued).
 */
export function tesseraImpl(backend: string, prepare: () => { inputs: Tensor[]; op: () => Tensor }, name = "tessera"): Impl {
  return {
    impl: name,
    backend,
    async setup() {
      const be = await ready(backend);
      const { inputs, op } = prepare();
      let last: Tensor | null = null;
      return {
        run: async () => {
          last?.dispose();
          last = tidy(op);
          await be.sync?.();
        },
        result: async () => (await last!.data()) as Float32Array,
        dispose: () => dispose([inputs, last]),
        // Peak bytes of one run beyond what was live before it (inputs excluded).
        peak: async () => {
          last?.dispose();
          last = null;
          resetPeakMemory();
          const base = memory().backends[backend]?.numBytes ?? 0;
          last = tidy(op);
          await be.sync?.();
          return (memory().backends[backend]?.peakBytes ?? 0) - base;
        },
      };
    },
  };
}

export function ortImpl(graph: GraphSpec, feeds: Record<string, Float32Array>): Impl {
  return {
    impl: "onnxruntime-node",
    backend: "cpu",
    async setup() {
      const s = await ortSession(graph);
      let out: Float32Array = new Float32Array(0);
      return { run: async () => (out = await s.run(feeds)), result: async () => out, dispose: () => s.release() };
    },
  };
}

/** The wasm and cpu tfjs backends (or those named); `prepare` gets the tfjs namespace. */
export function tfImpls(prepare: (tf: typeof TF) => { inputs: TfTensor[]; op: () => TfTensor }, backends: readonly ("wasm" | "cpu")[] = ["wasm", "cpu"]): Impl[] {
  return backends.map((backend) => ({
    impl: `tfjs-${backend}`,
    backend,
    async setup() {
      const tf = await useTf(backend);
      const { inputs, op } = prepare(tf);
      let last: TfTensor | null = null;
      return {
        run: () => {
          last?.dispose();
          last = tf.tidy(op);
        },
        result: async () => (await last!.data()) as Float32Array,
        dispose: () => tf.dispose([...inputs, ...(last ? [last] : [])]),
      };
    },
  }));
}

/** What a user writes by hand. */
export function plainImpl(f: () => Float32Array): Impl {
  return {
    impl: "plain-js",
    backend: "cpu",
    async setup() {
      let out: Float32Array = new Float32Array(0);
      return { run: () => (out = f()), result: async () => out, dispose: () => undefined };
    },
  };
}

/**
 * TensorFlow.js anchors: the wasm backend (XNNPACK, SIMD) and the pure-JS cpu backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";

// Production mode: tfjs's logging is off, so the cpu backend's "Hi, looks like you are running
// TensorFlow.js in Node.js..." banner does not land in the bench output (PROD only gates tfjs's
// console warnings and logs; kernels are unchanged).
tf.enableProdMode();

export type TfBackend = "wasm" | "cpu";

export async function useTf(backend: TfBackend): Promise<typeof tf> {
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`tfjs backend '${backend}' failed to initialize`);
  await tf.ready();
  return tf;
}

export { tf };

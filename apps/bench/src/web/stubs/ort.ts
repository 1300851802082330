/**
 * In the web page's bundle this replaces anchors/ort.ts (onnxruntime-node is a native Node
 * addon): the page leaves the onnxruntime-node rows out (SuiteContext.keepImpl), and a call that
 * still got here says why.
 */
import type { GraphSpec, OrtRunner } from "../../anchors/ort";

export async function ortSession(_g: GraphSpec): Promise<OrtRunner> {
  throw new Error("onnxruntime-node runs in Node only: the web page measures Tessera, tfjs and plain JS");
}

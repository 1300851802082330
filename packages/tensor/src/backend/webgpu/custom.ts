/**
 * Custom WGSL kernels over tensors, for packages with their own fused kernels (a flash-attention
 * kernel, a selective scan). Inputs are made contiguous (halves become float32); outputs are fresh float32 or int32
 * tensors. Not differentiable by itself: wrap it in customGrad with an op-level backward.
 */
import { fail, fmtShape } from "../../core/errors";
import type { DType } from "../../core/dtype";
import type { Tensor } from "../../core/tensor";
import { backendOf, wrap } from "../../ops/util";
import { cast, clone } from "../../ops/convert";
import { isHalf } from "../../core/dtype";
import type { WebGPUBackend } from "./index";

export interface WgslKernelCall {
  /** Full WGSL source: bindings are outputs (read_write), then inputs, then `prm` (u32). */
  code: string;
  inputs: Tensor[];
  outputs: { shape: readonly number[]; dtype?: DType }[];
  params?: readonly number[];
  groups: number | [number, number, number];
}

export function wgslKernel(call: WgslKernelCall): Tensor[] {
  const be = backendOf("wgslKernel", ...call.inputs) as unknown as WebGPUBackend;
  if (be.name !== "webgpu" || typeof be.runKernel !== "function") fail("wgslKernel", `inputs live on '${be.name}', not on a WebGPU backend`);
  for (const o of call.outputs)
    if (o.dtype && o.dtype !== "float32" && o.dtype !== "int32") fail("wgslKernel", `output dtype ${o.dtype} is not float32 or int32 (${fmtShape(o.shape)})`);
  // Kernels index from element 0 of a buffer of 32-bit words: strided or offset views are copied,
  // and float16/bfloat16 (stored two per word) are widened to float32.
  const packed = call.inputs.map((t) => (isHalf(t.dtype) ? cast(t, "float32") : t.isContiguous && t.offset === 0 && t.storage.size === t.size ? t : clone(t)));
  try {
    const outs = be.runKernel({
      code: call.code,
      inputs: packed.map((t) => ({ data: t.storage.data as never, dtype: t.dtype })),
      outputs: call.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1)),
      params: call.params ?? [],
      groups: call.groups,
    });
    return outs.map((d, i) => wrap(be as never, d, call.outputs[i].shape, call.outputs[i].dtype ?? "float32"));
  } finally {
    packed.forEach((t, i) => t !== call.inputs[i] && t.dispose());
  }
}

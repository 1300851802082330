/**
 * @tessera/native in a browser bundle: there are no native addons there, so nativeInfo() says
 * so and enabling throws; Tessera's cpu backend keeps its WebAssembly kernels (and WebGPU is
 * the fast path). Same exports as the Node entry.
 */
import { fail } from "@tessera/tensor";
import type { EnableOptions, NativeInfo, NativeKernelSet, NativeMatmulOptions, NativeOptions } from "./index";

export type { EnableOptions, NativeInfo, NativeIsa, NativeKernelSet, NativeMatmulOptions, NativeOptions } from "./index";
export const NATIVE_KERNEL_SETS: readonly NativeKernelSet[] = ["gemm", "elementwise"];

const REASON = "native addons need Node.js; in a browser Tessera runs its WebAssembly and WebGPU kernels";

export function nativeInfo(): NativeInfo {
  return { available: false, reason: REASON, isa: null, isas: [], threads: 0, enabled: [], path: "" };
}
export function configureNative(_options: NativeOptions = {}): NativeInfo {
  return fail("configureNative", REASON);
}
export function enableNative(_options: EnableOptions = {}): NativeInfo {
  return fail("enableNative", REASON);
}
export function disableNative(): void {}
export function nativeMatmul(_a: Float32Array, _b: Float32Array, _M: number, _N: number, _K: number, _options: NativeMatmulOptions = {}): Float32Array {
  return fail("nativeMatmul", REASON);
}

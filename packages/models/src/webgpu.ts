/**
 * `@tessera/models/webgpu`: the WebGPU backend with the fused WGSL kernels of every package the
 * models use (flash attention, quantized linear, selective scan) registered in @tessera/tensor's
 * kernel registry. One import instead of `@tessera/tensor/webgpu` plus each package's `/webgpu`:
 *
 *   import { registerWebGPU } from "@tessera/models/webgpu";
 *   registerWebGPU({ gpu: navigator.gpu });
 *   setBackend("webgpu"); await ready();
 */
import "@tessera/attention/webgpu";
import "@tessera/quantize/webgpu";
import "@tessera/ssm/webgpu";

export { registerWebGPU, type WebGPUOptions } from "@tessera/tensor/webgpu";

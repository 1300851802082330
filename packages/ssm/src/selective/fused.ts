/**
 * The fused selective scan as one differentiable op: a single kernel forward (cpu loops or
 * WGSL, found in @tessera/tensor's kernel registry) and a single kernel backward that recomputes
 * states from checkpoints, wired into autograd with customGradMulti (two outputs: y and the last
 * state).
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import type { ScanArgs } from "./args";
import type { ScanResult } from "./common";
import { scanBackwardCpu, scanForwardCpu, type ScanArrays, type ScanGrads, type ScanShape } from "./kernel-cpu";
import { scanBackwardWasm, scanForwardWasm } from "./kernel-wasm";
import { SELECTIVE_SCAN, type ScanSlot, type SelectiveScanKernel } from "./kernels";

export function selectiveScanFused(a: ScanArgs, kernel: SelectiveScanKernel): ScanResult {
  const slots: [ScanSlot, Tensor | null][] = [
    ["u", a.u],
    ["delta", a.delta],
    ["A", a.A],
    ["B", a.B],
    ["C", a.C],
    ["D", a.D],
    ["z", a.z],
    ["bias", a.deltaBias],
    ["h0", a.h0],
  ];
  const present = slots.filter((s): s is [ScanSlot, Tensor] => s[1] !== null);
  const shape: ScanShape = { ...a.dims, softplus: a.softplus, bL: a.bLayout, cL: a.cLayout };
  const backend = a.u.backend;
  const op = T.customGradMulti((...xs: Tensor[]) => {
    // Kernels read packed float32 data.
    const f32 = xs.map((t) => (t.dtype === "float32" ? t : T.cast(t, "float32")));
    const byName = (name: ScanSlot): Tensor | null => {
      const k = present.findIndex(([n]) => n === name);
      return k < 0 ? null : f32[k];
    };
    const r = kernel.run(shape, byName, backend);
    return {
      values: r.values,
      grad: ([dOut, dLast]) => {
        const grads = r.grad(dOut, dLast);
        return present.map(([name]) => grads[name] ?? null);
      },
    };
  }, "selectiveScan");
  const [y, lastState] = op(...present.map(([, t]) => t));
  return { y, lastState };
}

/** The cpu kernel: WebAssembly SIMD where it applies, else the TypeScript loops (same results). */
const cpuScan: SelectiveScanKernel = {
  maxState: Number.POSITIVE_INFINITY,
  run(shape, get, backend) {
    const { Bb, Dm, L, N } = shape;
    const names: ScanSlot[] = ["u", "delta", "A", "B", "C", "D", "z", "bias", "h0"];
    const arrays = Object.fromEntries(names.map((name) => [name, (get(name)?.dataSync() as Float32Array | undefined) ?? null])) as unknown as ScanArrays;
    const wasm = scanForwardWasm(shape, arrays);
    const fwd = wasm ?? scanForwardCpu(shape, arrays);
    const backward = (dOut: Float32Array, dLast: Float32Array): ScanGrads =>
      wasm ? scanBackwardWasm(shape, arrays, wasm.saved, dOut, dLast) : scanBackwardCpu(shape, arrays, dOut, dLast, (fwd as ReturnType<typeof scanForwardCpu>).checkpoints);
    const { out, last } = fwd;
    return {
      values: [T.tensor(out, { shape: [Bb, Dm, L], backend }), T.tensor(last, { shape: [Bb, Dm, N], backend })],
      grad: (dOut, dLast) => {
        const g = backward(dOut.dataSync() as Float32Array, dLast.dataSync() as Float32Array);
        const byName: Record<ScanSlot, Float32Array> = { u: g.du, delta: g.ddelta, A: g.dA, B: g.dB, C: g.dC, D: g.dD, z: g.dz, bias: g.dbias, h0: g.dh0 };
        const out: Partial<Record<ScanSlot, Tensor>> = {};
        for (const name of names) {
          const t = get(name);
          if (t) out[name] = T.tensor(byName[name], { shape: t.shape, backend });
        }
        return out;
      },
    };
  },
};
T.registerKernel(SELECTIVE_SCAN, "cpu", cpuScan);

/**
 * The cpu kernel of the one-token step (SELECTIVE_STATE_UPDATE): WebAssembly SIMD
 * (kernel-wasm.ts stateUpdateWasm, wasm/scan.ts state_update), wherever the module loads (any D
 * and N: padded to multiples of 4). step.ts registers it.
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { scanWasmAvailable, stateUpdateWasm } from "./kernel-wasm";
import type { StateUpdateKernel } from "./kernels";

/** The cpu one-token step: WebAssembly SIMD (kernel-wasm.ts stateUpdateWasm) wherever the module loads. */
export const cpuStateUpdate: StateUpdateKernel = {
  applies: () => scanWasmAvailable(),
  run(t) {
    const [Bb, Dm, N] = t.state.shape;
    const v = (x: Tensor | null) => (x ? T.float32Values(x) : null);
    const r = stateUpdateWasm(
      { Bb, Dm, N, G: t.B.shape[1], softplus: t.softplus, aLog: t.aLog },
      {
        state: T.float32Values(t.state),
        x: T.float32Values(t.x),
        dt: T.float32Values(t.dt),
        z: v(t.z),
        A: T.float32Values(t.A),
        B: T.float32Values(t.B),
        C: T.float32Values(t.C),
        D: v(t.D),
        bias: v(t.dtBias),
      },
    );
    if (!r) throw new Error("selectiveStateUpdate: the WebAssembly step kernel went away between applies() and run()");
    return { y: T.tensor(r.y, { shape: [Bb, Dm], backend: "cpu" }), state: T.tensor(r.state, { shape: [Bb, Dm, N], backend: "cpu" }) };
  },
};

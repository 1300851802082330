/**
 * One decoding step of the selective SSM (mamba_ssm `selective_state_update`, Mamba.step):
 *   dt = softplus(dt + dtBias);  state = exp(dt A) state + dt B x;  y = C . state + D x;  y *= silu(z)
 * Shapes: state [B, D, N]; x, dt, z [B, D]; A [D, N]; B, C [B, N] or [B, G, N]; D, dtBias [D].
 * The composed form (tensor ops, differentiable, every backend) is the reference; where no
 * gradient is being recorded, a kernel registered as SELECTIVE_STATE_UPDATE for the backend serves
 * it in one pass (cpu: WebAssembly SIMD, step-kernel.ts).
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { checkTensors, expectShape, fail, shp } from "../util";
import { SELECTIVE_STATE_UPDATE, type StateUpdateInputs, type StateUpdateKernel } from "./kernels";
import { cpuStateUpdate } from "./step-kernel";

T.registerKernel(SELECTIVE_STATE_UPDATE, "cpu", cpuStateUpdate);

export interface StateUpdateOptions {
  D?: Tensor | null;
  z?: Tensor | null;
  dtBias?: Tensor | null;
  dtSoftplus?: boolean;
  /**
   * `A` holds log(-A) (mamba_ssm's `A_log` parameter): the step uses A = -exp(A_log), computed
   * inside the fused kernel instead of as two ops over [D, N] every token (default false).
   */
  aLog?: boolean;
}

/** Checks B or C of one step: [B, N], or [B, G, N] with G dividing D. */
function checkProj(name: string, X: Tensor, Bb: number, Dm: number, N: number): void {
  if (X.rank === 2) expectShape("selectiveStateUpdate", name, X, [Bb, N], `[B, N] = [${Bb},${N}] or [B, G, N]`);
  else if (X.rank !== 3 || X.shape[0] !== Bb || X.shape[2] !== N || Dm % X.shape[1] !== 0)
    fail("selectiveStateUpdate", `${name} ${shp(X)} must be [B, N] or [B, G, N] with G dividing D = ${Dm}`);
}

/** B or C of one step (checked) as [B, D|1, N]. */
function stepProj(X: Tensor, Bb: number, Dm: number, N: number): Tensor {
  if (X.rank === 2) return T.unsqueeze(X, 1);
  const G = X.shape[1];
  return T.reshape(T.contiguous(T.expand(T.unsqueeze(X, 2), [Bb, G, Dm / G, N])), [Bb, Dm, N]);
}

/** Advances `state` by one token. Returns y [B, D] and the new state (the input is not consumed). */
export function selectiveStateUpdate(state: Tensor, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, opts: StateUpdateOptions = {}): { y: Tensor; state: Tensor } {
  const op = "selectiveStateUpdate";
  checkTensors(op, state, { state, x, dt, A, B, C, D: opts.D, z: opts.z, dtBias: opts.dtBias });
  if (state.rank !== 3) fail(op, `state ${shp(state)} must be [B, D, N]`);
  const [Bb, Dm, N] = state.shape;
  for (const [name, t] of [
    ["x", x],
    ["dt", dt],
    ["z", opts.z],
  ] as const)
    if (t) expectShape(op, name, t, [Bb, Dm], `[B, D] = [${Bb},${Dm}]`);
  expectShape(op, "A", A, [Dm, N], `[D, N] = [${Dm},${N}]`);
  for (const [name, t] of [
    ["D", opts.D],
    ["dtBias", opts.dtBias],
  ] as const)
    if (t) expectShape(op, name, t, [Dm], `[D] = [${Dm}]`);
  checkProj("B", B, Bb, Dm, N);
  checkProj("C", C, Bb, Dm, N);
  const fused = fusedStep(state, x, dt, A, B, C, opts);
  if (fused) return fused;
  let step = opts.dtBias ? T.add(dt, opts.dtBias) : dt; // [B, D]
  if (opts.dtSoftplus) step = T.softplus(step);
  const dt3 = T.unsqueeze(step, -1); // [B, D, 1]
  const a = opts.aLog ? T.neg(T.exp(A)) : A; // [D, N]
  const next = T.add(T.mul(T.exp(T.mul(dt3, a)), state), T.mul(T.mul(dt3, stepProj(B, Bb, Dm, N)), T.unsqueeze(x, -1))); // [B, D, N]
  let y = T.sum(T.mul(next, stepProj(C, Bb, Dm, N)), -1); // [B, D]
  if (opts.D) y = T.add(y, T.mul(x, opts.D));
  if (opts.z) y = T.mul(y, T.silu(opts.z));
  return { y, state: next };
}

/**
 * The registered one-token kernel for the state's backend (float32 throughout, nothing recorded),
 * or null for the composed form.
 */
function fusedStep(state: Tensor, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, opts: StateUpdateOptions): { y: Tensor; state: Tensor } | null {
  const all = [state, x, dt, A, B, C, opts.D, opts.z, opts.dtBias].filter((t): t is Tensor => !!t);
  if (all.some((t) => t.dtype !== "float32" || t.backend !== state.backend) || T.isRecording(all)) return null;
  const [Bb, Dm, N] = state.shape;
  const asGroups = (X: Tensor) => (X.rank === 2 ? T.reshape(X, [Bb, 1, N]) : X); // [B, G, N]
  const [Bg, Cg] = [asGroups(B), asGroups(C)];
  if (Bg.shape[1] !== Cg.shape[1]) return null; // B and C grouped differently: the composed form
  const inputs: StateUpdateInputs = {
    state,
    x,
    dt,
    z: opts.z ?? null,
    A,
    aLog: !!opts.aLog,
    B: Bg,
    C: Cg,
    D: opts.D ?? null,
    dtBias: opts.dtBias ?? null,
    softplus: !!opts.dtSoftplus,
  };
  const k = T.getKernel<StateUpdateKernel>(SELECTIVE_STATE_UPDATE, state.backend, { count: false });
  if (!k?.applies(inputs)) return null;
  T.getKernel(SELECTIVE_STATE_UPDATE, state.backend); // counted in kernelStats as the kernel that ran
  return k.run(inputs);
}

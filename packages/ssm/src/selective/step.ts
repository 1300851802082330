/**
 * One decoding step of the selective SSM (mamba_ssm `selective_state_update`, Mamba.step):
 *   dt = softplus(dt + dtBias);  state = exp(dt A) state + dt B x;  y = C . state + D x;  y *= silu(z)
 * Shapes: state [B, D, N]; x, dt, z [B, D]; A [D, N]; B, C [B, N] or [B, G, N]; D, dtBias [D].
 */
import * as T from "@tessera/tensor";
import type { Tensor } from "@tessera/tensor";
import { checkTensors, expectShape, fail, shp } from "../util";

export interface StateUpdateOptions {
  D?: Tensor | null;
  z?: Tensor | null;
  dtBias?: Tensor | null;
  dtSoftplus?: boolean;
}

/** B or C of one step as [B, D|1, N]. */
function stepProj(name: string, X: Tensor, Bb: number, Dm: number, N: number): Tensor {
  if (X.rank === 2) {
    expectShape("selectiveStateUpdate", name, X, [Bb, N], `[B, N] = [${Bb},${N}] or [B, G, N]`);
    return T.unsqueeze(X, 1);
  }
  if (X.rank !== 3 || X.shape[0] !== Bb || X.shape[2] !== N || Dm % X.shape[1] !== 0)
    fail("selectiveStateUpdate", `${name} ${shp(X)} must be [B, N] or [B, G, N] with G dividing D = ${Dm}`);
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
  let step = opts.dtBias ? T.add(dt, opts.dtBias) : dt; // [B, D]
  if (opts.dtSoftplus) step = T.softplus(step);
  const dt3 = T.unsqueeze(step, -1); // [B, D, 1]
  const next = T.add(T.mul(T.exp(T.mul(dt3, A)), state), T.mul(T.mul(dt3, stepProj("B", B, Bb, Dm, N)), T.unsqueeze(x, -1))); // [B, D, N]
  let y = T.sum(T.mul(next, stepProj("C", C, Bb, Dm, N)), -1); // [B, D]
  if (opts.D) y = T.add(y, T.mul(x, opts.D));
  if (opts.z) y = T.mul(y, T.silu(opts.z));
  return { y, state: next };
}

/**
 * The autograd tape. While a `grad`/`valueAndGrad` call runs its function, every differentiable
 * op whose input is being tracked records a node: handles to its inputs and output (sharing
 * storage, so tidy cannot free them) and a backward rule written in terms of ops. Backward rules
 * run as ordinary ops, so they work on every backend and record onto any outer tape (which is
 * what makes nested `grad` give higher derivatives).
 */
import { isFloat } from "./dtype";
import { state } from "./state";
import type { Tensor } from "./tensor";

/** Maps the output cotangent to one cotangent per input (null where there is none). */
export type BackwardFn = (dy: Tensor, inputs: readonly Tensor[], output: Tensor) => readonly (Tensor | null | undefined)[];

export interface TapeNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly backward: BackwardFn;
  /** Tensors the node owns (custom-gradient intermediates); disposed with it. */
  readonly owned: readonly Tensor[];
  users: number;
}

export class Tape {
  readonly nodes: TapeNode[] = [];
  /** Keys of tensors whose gradient flows through this tape. */
  readonly tracked = new Set<number>();

  track(t: Tensor): void {
    if (isFloat(t.dtype)) this.tracked.add(t.key);
  }

  dispose(): void {
    for (const node of this.nodes) releaseNode(node);
    this.nodes.length = 0;
    this.tracked.clear();
  }
}

function releaseNode(node: TapeNode): void {
  if (--node.users > 0) return;
  for (const t of node.inputs) t.dispose();
  node.output.dispose();
  for (const t of node.owned) t.dispose();
}

const active = state.tapes;

export function pushTape(tape: Tape): void {
  active.push(tape);
}

export function popTape(tape: Tape): void {
  const i = active.lastIndexOf(tape);
  if (i >= 0) active.splice(i, 1);
}

/** Whether any tape would record an op over these inputs. */
export function needsRecord(inputs: readonly Tensor[]): boolean {
  if (state.pausedDepth > 0 || active.length === 0) return false;
  for (const tape of active) for (const t of inputs) if (tape.tracked.has(t.key)) return true;
  return false;
}

/** Runs fn with recording off (used for a custom-gradient forward and `stopGradient`). */
export function withoutRecording<T>(fn: () => T): T {
  state.pausedDepth++;
  try {
    return fn();
  } finally {
    state.pausedDepth--;
  }
}

/**
 * Records `output = name(inputs)` on every active tape that tracks one of the inputs, and returns
 * `output`. Integer and bool outputs carry no gradient and are not recorded.
 */
export function record(name: string, inputs: readonly Tensor[], output: Tensor, backward: BackwardFn, owned: readonly Tensor[] = []): Tensor {
  if (!isFloat(output.dtype) || !needsRecord(inputs)) {
    for (const t of owned) t.dispose();
    return output;
  }
  let node: TapeNode | null = null;
  for (const tape of active) {
    if (!inputs.some((t) => tape.tracked.has(t.key))) continue;
    node ??= { name, inputs: inputs.map((t) => t.ref()), output: output.ref(), backward, owned, users: 0 };
    node.users++;
    tape.nodes.push(node);
    tape.tracked.add(output.key);
  }
  return output;
}

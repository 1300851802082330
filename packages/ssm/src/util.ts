/** Small helpers shared by the layers: clear errors and argument checks. */
import { fail, type Tensor } from "@tessera/tensor";

export { fail }; // @tessera/tensor's: throws TesseraError("op: message")

/** "[2,8,29]" */
export const shp = (t: Tensor): string => `[${t.shape.join(",")}]`;

const FLOATS = ["float32", "float16", "bfloat16"];

/** Checks optional tensor arguments: alive, float, on `like`'s backend. */
export function checkTensors(op: string, like: Tensor, args: Record<string, Tensor | null | undefined>): void {
  for (const [name, t] of Object.entries(args)) {
    if (t === null || t === undefined) continue;
    if (typeof (t as Tensor).assertAlive !== "function") fail(op, `${name} must be a Tensor`);
    t.assertAlive(op);
    if (!FLOATS.includes(t.dtype)) fail(op, `${name} ${shp(t)} is ${t.dtype}; ${op} needs float tensors`);
    if (t.backend !== like.backend) fail(op, `${name} lives on '${t.backend}' but ${Object.keys(args)[0]} on '${like.backend}'; move one with toBackend()`);
  }
}

/** Checks that `t` has exactly `shape` (entries of -1 match anything). */
export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[], what: string): void {
  if (t.rank !== shape.length || shape.some((s, i) => s !== -1 && t.shape[i] !== s)) fail(op, `${name} ${shp(t)} must be ${what}`);
}

export function positiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) fail(op, `${name} must be a positive integer, got ${v}`);
}

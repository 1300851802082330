/**
 * Errors name the op, the argument and the shapes/dtypes involved:
 *   matmul: a [2,3,4] and b [5,6] disagree on the contracted axis (4 vs 5)
 */
export class TesseraError extends Error {
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = "TesseraError";
    this.op = op;
  }
}

export function fail(op: string, message: string): never {
  throw new TesseraError(op, message);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Errors of @tessera/masked: a TesseraError whose message starts with the function name. */
import { TesseraError } from "@tessera/tensor";

export function fail(op: string, message: string): never {
  throw new TesseraError(op, message);
}

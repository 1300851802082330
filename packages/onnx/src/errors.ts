/** Errors of @tessera/onnx: a TesseraError whose message starts with the operation. */
import { TesseraError } from "@tessera/tensor";

export function fail(op: string, message: string): never {
  throw new TesseraError(op, message);
}

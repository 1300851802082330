/** Errors of @tessera/codebook: a TesseraError whose message starts with the operation. */
export { fail } from "@tessera/tensor"; // the one helper: throws TesseraError("op: message")

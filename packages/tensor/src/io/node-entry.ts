/** `@tessera/tensor/node`: file helpers that need node:fs. */
export { fixtureFiles, loadSafetensors, saveSafetensors } from "./node";
export { writeFilesAtomic, type AtomicFs, type AtomicWriteOptions } from "./atomic";

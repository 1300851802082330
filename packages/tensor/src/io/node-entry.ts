/** `@tessera/tensor/node`: file helpers that need node:fs. */
export { loadSafetensors, saveSafetensors } from "./node";

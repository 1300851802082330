/**
 * `@tessera/onnx/node`: from a Hugging Face save_pretrained folder to a .onnx file.
 *   exportPretrained("models/gpt2", "out/model.onnx", { decode: true })
 * The file is written atomically (a temporary, then a rename): a failure leaves no partial file.
 */
import { basename, dirname, resolve } from "node:path";
import { loadPretrained } from "@tessera/models/node";
import { writeFilesAtomic } from "@tessera/tensor/node";
import { exportOnnx, type ExportOptions, type OnnxExport } from "./export";

export { exportOnnx };

/** Writes an export's bytes to `file` (creating its folder). */
export function writeOnnx(file: string, e: Pick<OnnxExport, "bytes">): void {
  const path = resolve(file);
  writeFilesAtomic(dirname(path), { [basename(path)]: e.bytes }, { createFolder: true, op: "writeOnnx" });
}

/** Loads the folder `dir`, exports it and writes `file`; returns the export (without reading it back). */
export async function exportPretrained(dir: string, file: string, opts: ExportOptions = {}): Promise<OnnxExport> {
  const p = loadPretrained(dir);
  try {
    const e = await exportOnnx(p.model, p.info, opts);
    writeOnnx(file, e);
    return e;
  } finally {
    p.model.dispose();
  }
}

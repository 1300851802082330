/**
 * Writing a set of files as one transaction (Node.js): a failure at any step leaves the folder as
 * it was. Used by saveSafetensors (one file) and by @tessera/models' savePretrained (a checkpoint:
 * config.json, weights, shard index).
 *
 *   1. every new file is written under a temporary name in the target folder;
 *   2. each existing file that will be replaced or removed is renamed aside (a backup);
 *   3. the temporary files are renamed into place;
 *   4. the backups are deleted.
 * A failure in 1-3 undoes what was done (new files removed, backups renamed back) and throws an
 * error naming the file and the step; a failure in 4 only leaves a backup file behind.
 */
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { TesseraError } from "@tessera/tensor";

/** The node:fs calls the transaction makes (tests pass a faulty one to inject failures). */
export interface AtomicFs {
  writeFileSync(path: string, data: Uint8Array | string): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: boolean }): void;
  existsSync(path: string): boolean;
  mkdirSync(path: string, opts: { recursive: boolean }): unknown;
}

export interface AtomicWriteOptions {
  /** Existing files of the folder to delete when the new ones are in place (names, not paths). */
  remove?: readonly string[];
  /** Create the folder (and its parents) when missing (default false: a missing folder is an error). */
  createFolder?: boolean;
  /** The operation named in errors (default "writeFilesAtomic"). */
  op?: string;
  /** Injected file system (tests). */
  fs?: AtomicFs;
}

let counter = 0;

const isPlainName = (n: string) => n.length > 0 && n !== "." && n !== ".." && !/[/\\]/.test(n);

/**
 * Writes `files` (name -> bytes or text) into `dir` all together, and removes `opts.remove`:
 * either everything happens or, on failure, nothing (the previous files stay as they were).
 */
export function writeFilesAtomic(dir: string, files: Record<string, Uint8Array | string>, opts: AtomicWriteOptions = {}): void {
  const fs = opts.fs ?? (nodeFs as unknown as AtomicFs);
  const op = opts.op ?? "writeFilesAtomic";
  const names = Object.keys(files);
  const remove = (opts.remove ?? []).filter((n) => !(n in files));
  for (const n of [...names, ...remove]) if (!isPlainName(n)) throw new TesseraError(op, `file name '${n}' must be a plain name inside '${dir}'`);
  const tag = `${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  const tmpOf = (n: string) => join(dir, `.${n}.tmp-${tag}`);
  const bakOf = (n: string) => join(dir, `.${n}.bak-${tag}`);

  const written: string[] = []; // temporaries on disk
  const backedUp: string[] = []; // names renamed aside
  const placed: string[] = []; // names renamed into place
  const undo = () => {
    for (const n of placed) fs.rmSync(join(dir, n), { force: true });
    for (const n of backedUp) {
      try {
        fs.renameSync(bakOf(n), join(dir, n));
      } catch {
        /* the backup stays under its .bak name: better than losing it */
      }
    }
    for (const p of written) fs.rmSync(p, { force: true });
  };
  let step = "";
  try {
    if (opts.createFolder) {
      step = "create the folder";
      fs.mkdirSync(dir, { recursive: true });
    }
    for (const n of names) {
      step = `write '${n}'`;
      fs.writeFileSync(tmpOf(n), files[n]);
      written.push(tmpOf(n));
    }
    for (const n of [...names, ...remove]) {
      if (!fs.existsSync(join(dir, n))) continue;
      step = `move the old '${n}' aside`;
      fs.renameSync(join(dir, n), bakOf(n));
      backedUp.push(n);
    }
    for (const n of names) {
      step = `rename '${n}' into place`;
      fs.renameSync(tmpOf(n), join(dir, n));
      placed.push(n);
      written.splice(written.indexOf(tmpOf(n)), 1);
    }
  } catch (e) {
    undo();
    throw new TesseraError(op, `cannot ${step} in '${dir}': ${(e as Error).message} (nothing was changed)`);
  }
  for (const n of backedUp) fs.rmSync(bakOf(n), { force: true });
}

/**
 * writeFilesAtomic / saveSafetensors: every failure (a write or rename failing at any step)
 * leaves the folder exactly as it was; success replaces and removes what was asked.
 */
import * as fs from "node:fs";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tensor } from "../src/index";
import { fixtureFiles, loadSafetensors, saveSafetensors, writeFilesAtomic, type AtomicFs } from "../src/io/node-entry";

const root = mkdtempSync(join(tmpdir(), "tessera-atomic-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = (files: Record<string, string>) => {
  const d = join(root, `d${n++}`);
  fs.mkdirSync(d);
  for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k), v);
  return d;
};
const contents = (d: string) =>
  Object.fromEntries(
    readdirSync(d)
      .sort()
      .map((f) => [f, readFileSync(join(d, f), "utf8")]),
  );

function faultyFs(failAt: number): AtomicFs & { calls: number } {
  const f = {
    calls: 0,
    writeFileSync(p: string, data: Uint8Array | string) {
      if (f.calls++ === failAt) throw new Error("ENOSPC: no space left on device");
      fs.writeFileSync(p, data);
    },
    renameSync(a: string, b: string) {
      if (f.calls++ === failAt) throw new Error("EACCES: permission denied");
      fs.renameSync(a, b);
    },
    rmSync: fs.rmSync,
    existsSync: fs.existsSync,
    mkdirSync: fs.mkdirSync,
  };
  return f;
}

describe("writeFilesAtomic", () => {
  it("replaces, adds and removes files together", () => {
    const d = folder({ "a.txt": "old a", "b.txt": "old b", "keep.txt": "k" });
    writeFilesAtomic(d, { "a.txt": "new a", "c.txt": "new c" }, { remove: ["b.txt", "missing.txt"] });
    expect(contents(d)).toEqual({ "a.txt": "new a", "c.txt": "new c", "keep.txt": "k" });
  });

  it("a failure at any step leaves the folder as it was", () => {
    const before = { "a.txt": "old a", "b.txt": "old b" };
    const counting = faultyFs(-1);
    writeFilesAtomic(folder(before), { "a.txt": "new a", "c.txt": "new c" }, { remove: ["b.txt"], fs: counting });
    expect(counting.calls).toBe(2 + 2 + 2); // two writes, two moved aside, two renamed into place
    for (let k = 0; k < counting.calls; k++) {
      const d = folder(before);
      expect(() => writeFilesAtomic(d, { "a.txt": "new a", "c.txt": "new c" }, { remove: ["b.txt"], fs: faultyFs(k), op: "save" })).toThrow(
        /^save: cannot (write|move the old|rename) .*(ENOSPC|EACCES).*\(nothing was changed\)$/,
      );
      expect(contents(d), `failure at step ${k}`).toEqual(before);
    }
  });

  it("refuses names outside the folder", () => {
    const d = folder({});
    for (const bad of ["../x", "a/b", "", "..", "c\\d"]) expect(() => writeFilesAtomic(d, { [bad]: "x" })).toThrow(/must be a plain name inside/);
    expect(() => writeFilesAtomic(d, { ok: "x" }, { remove: ["../../etc/passwd"] })).toThrow(/must be a plain name inside/);
    expect(readdirSync(d)).toEqual([]);
  });
});

describe("saveSafetensors is atomic", () => {
  it("a failed write keeps the previous file readable and leaves no temporary file", async () => {
    const d = folder({});
    const path = join(d, "w.safetensors");
    await saveSafetensors(path, { x: tensor([1, 2, 3]) });
    for (let k = 0; k < 3; k++) {
      await expect(saveSafetensors(path, { x: tensor([4, 5, 6, 7]) }, {}, { fs: faultyFs(k) })).rejects.toThrow(/^saveSafetensors: cannot .*\(nothing was changed\)/);
      expect(readdirSync(d)).toEqual(["w.safetensors"]);
      expect(Array.from(loadSafetensors(path).tensors.x.dataSync())).toEqual([1, 2, 3]);
    }
  });
});

describe("fixtureFiles", () => {
  it("reads each file once, keeps its tensors, and names a missing file with the hint", async () => {
    const d = folder({});
    await saveSafetensors(join(d, "r.safetensors"), { x: tensor([1, 2]) });
    const fixture = fixtureFiles(d, "regenerate them");
    const a = fixture("r.safetensors");
    expect(fixture("r.safetensors")).toBe(a); // cached
    expect(Array.from(a.x.dataSync())).toEqual([1, 2]);
    expect(() => fixture("missing.safetensors")).toThrow(`fixtureFiles: missing ${join(d, "missing.safetensors")}: regenerate them`);
  });
});

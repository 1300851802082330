/**
 * savePretrained is one transaction: a save that fails at any step (a disposed parameter, a
 * failing write or rename: disk full, EFBIG, EACCES) leaves the previous checkpoint loadable and
 * the folder as it was; a save with another sharding leaves no stale shards behind.
 */
import * as fs from "node:fs";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "@tessera/tensor";
import type { AtomicFs } from "@tessera/tensor/node";
import { hfStateDict, modelFromConfig } from "../src/index";
import { loadPretrained, savePretrained } from "../src/node";
import { CONFIGS } from "./configs";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "tessera-ckpt-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every tensor of a checkpoint folder, as bytes keyed by Hugging Face name. */
function snapshot(dir: string): Map<string, string> {
  const p = loadPretrained(dir);
  const out = new Map<string, string>();
  for (const [k, t] of Object.entries(hfStateDict(p.model, p.info))) out.set(k, Buffer.from(t.dataSync().buffer).toString("base64"));
  p.model.dispose();
  return out;
}

/** node:fs whose `failAt`-th write or rename (counting from 0) throws like a full disk. */
function faultyFs(failAt: number): AtomicFs & { calls: number } {
  const f = {
    calls: 0,
    writeFileSync(path: string, data: Uint8Array | string) {
      if (f.calls++ === failAt) throw Object.assign(new Error(`EFBIG: file too large, write '${path}'`), { code: "EFBIG" });
      fs.writeFileSync(path, data);
    },
    renameSync(from: string, to: string) {
      if (f.calls++ === failAt) throw Object.assign(new Error(`EACCES: permission denied, rename '${from}'`), { code: "EACCES" });
      fs.renameSync(from, to);
    },
    rmSync: fs.rmSync,
    existsSync: fs.existsSync,
    mkdirSync: fs.mkdirSync,
  };
  return f;
}

describe("savePretrained never loses the previous checkpoint", () => {
  const old = modelFromConfig(CONFIGS.gpt2, { seed: 1 });
  const next = modelFromConfig(CONFIGS.gpt2, { seed: 2 });

  it("a failing write or rename at every step: the old checkpoint stays, byte for byte, with no temporary files", async () => {
    for (const [oldShards, newShards] of [
      [undefined, 4096],
      [4096, undefined],
      [4096, 16384],
    ] as const) {
      const dir = tmp();
      await savePretrained(dir, old, { maxShardBytes: oldShards });
      const files = readdirSync(dir).sort();
      const want = snapshot(dir);
      // Count the steps of a successful save, then fail each one in turn.
      const probe = tmp();
      await savePretrained(probe, old, { maxShardBytes: oldShards });
      const counting = faultyFs(-1);
      await savePretrained(probe, next, { maxShardBytes: newShards, fs: counting });
      expect(counting.calls).toBeGreaterThan(3);
      for (let k = 0; k < counting.calls; k++) {
        await expect(savePretrained(dir, next, { maxShardBytes: newShards, fs: faultyFs(k) }), `step ${k}`).rejects.toThrow(
          /savePretrained: cannot .* in '.*': (EFBIG|EACCES).*\(nothing was changed\)/,
        );
        expect(readdirSync(dir).sort(), `files after a failure at step ${k}`).toEqual(files);
        expect(snapshot(dir), `weights after a failure at step ${k}`).toEqual(want);
      }
      // And with no fault the new checkpoint replaces the old one entirely.
      await savePretrained(dir, next, { maxShardBytes: newShards });
      expect(snapshot(dir)).toEqual(snapshot(probe));
    }
  });

  it("a disposed parameter fails before anything is written", async () => {
    const dir = tmp();
    await savePretrained(dir, old);
    const want = snapshot(dir);
    const broken = modelFromConfig(CONFIGS.gpt2, { seed: 3 });
    broken.model.parameters()[0].dispose();
    await expect(savePretrained(dir, broken)).rejects.toThrow(/savePretrained: 1 parameter\(s\) were disposed \(.+\): nothing was written/);
    expect(readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors"]);
    expect(snapshot(dir)).toEqual(want);
    broken.model.dispose();
  });

  it("re-saving with another sharding removes the old checkpoint's files", async () => {
    const dir = tmp();
    const shardsOf = () => readdirSync(dir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    await savePretrained(dir, old, { maxShardBytes: 4096 });
    const many = shardsOf();
    expect(many.length).toBeGreaterThan(2);
    await savePretrained(dir, old, { maxShardBytes: 16384 });
    const fewer = shardsOf();
    expect(fewer.length).toBeLessThan(many.length);
    for (const f of fewer) expect(f).toMatch(new RegExp(`-of-${String(fewer.length).padStart(5, "0")}\\.`));
    await savePretrained(dir, old);
    expect(readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors"]);
    // Files that are not checkpoint files are left alone.
    fs.writeFileSync(join(dir, "README.md"), "notes");
    await savePretrained(dir, old, { maxShardBytes: 4096 });
    expect(readdirSync(dir)).toContain("README.md");
    expect(readdirSync(dir)).not.toContain("model.safetensors");
  });

  it("maxShardBytes must be a positive integer", async () => {
    for (const bad of [-1, 0, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(savePretrained(tmp(), old, { maxShardBytes: bad })).rejects.toThrow(`savePretrained: maxShardBytes must be a positive integer (bytes), got ${bad}`);
    }
  });

  it("leaves memory flat", async () => {
    const dir = tmp();
    await savePretrained(dir, old);
    const before = T.memory().numTensors;
    for (let i = 0; i < 3; i++) await savePretrained(dir, old, { maxShardBytes: i % 2 ? 4096 : undefined });
    await expect(savePretrained(dir, old, { fs: faultyFs(0) })).rejects.toThrow(/EFBIG/);
    expect(T.memory().numTensors).toBe(before);
  });
});

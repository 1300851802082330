/**
 * savePretrained writes what transformers' from_pretrained reads: for every fixture (folders
 * written by transformers' save_pretrained), the saved folder has the same tensor names, shapes
 * and dtypes, the same config.json keys and values, tied weights left out as transformers leaves
 * them out, safetensors metadata {"format": "pt"}, and, sharded, transformers' index format
 * (model-0000i-of-0000n.safetensors, {"metadata": {"total_size"}, "weight_map"}).
 * (No PyTorch here: this compares against the reference folders, not a live from_pretrained.)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadPretrained, savePretrained } from "../src/node";
import { ARCHS, hfDir } from "./helpers";

interface Header {
  meta: Record<string, string> | undefined;
  tensors: Record<string, { dtype: string; shape: number[]; bytes: number }>;
}

/** A safetensors file's header: 8-byte little-endian length, then JSON. */
function header(file: string): Header {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  const tensors: Header["tensors"] = {};
  let meta: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(json)) {
    if (k === "__metadata__") meta = v as Record<string, string>;
    else {
      const t = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
      tensors[k] = { dtype: t.dtype, shape: t.shape, bytes: t.data_offsets[1] - t.data_offsets[0] };
    }
  }
  return { meta, tensors };
}

/** Every tensor of a folder (single file or shards) with its file. */
function folderTensors(dir: string): Record<string, Header["tensors"][string] & { file: string }> {
  const files = existsSync(join(dir, "model.safetensors")) ? ["model.safetensors"] : readdirSync(dir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  const out: Record<string, Header["tensors"][string] & { file: string }> = {};
  for (const f of files) {
    const h = header(join(dir, f));
    expect(h.meta?.format, `${dir}/${f} __metadata__.format`).toBe("pt");
    for (const [k, t] of Object.entries(h.tensors)) out[k] = { ...t, file: f };
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), "tessera-compat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("savePretrained output against transformers' save_pretrained folders", () => {
  for (const arch of ARCHS) {
    it(`${arch}: names, shapes, dtypes, config keys, tied weights; sharded index`, async () => {
      const ref = hfDir(arch);
      const p = loadPretrained(ref);
      const single = join(tmp, `${arch}-single`);
      const sharded = join(tmp, `${arch}-sharded`);
      await savePretrained(single, p);
      await savePretrained(sharded, p, { maxShardBytes: 64 * 1024 });
      p.model.dispose();
      const want = folderTensors(ref);
      const strip = (r: ReturnType<typeof folderTensors>) => Object.fromEntries(Object.entries(r).map(([k, { dtype, shape }]) => [k, { dtype, shape }]));
      expect(Object.keys(want).length).toBeGreaterThan(0);
      expect(strip(folderTensors(single))).toEqual(strip(want));
      // Tied weights: transformers writes the shared tensor once (no lm_head / decoder copy).
      const cfg = JSON.parse(readFileSync(join(ref, "config.json"), "utf8")) as Record<string, unknown>;
      if (arch === "gpt2" || (arch === "llama" && cfg.tie_word_embeddings)) expect(Object.keys(folderTensors(single))).not.toContain("lm_head.weight");
      if (arch === "bert") expect(Object.keys(folderTensors(single))).not.toContain("cls.predictions.decoder.weight");
      // config.json: the same keys and values.
      for (const dir of [single, sharded]) {
        const saved = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
        expect(Object.keys(saved).sort()).toEqual(Object.keys(cfg).sort());
        expect(saved).toEqual(cfg);
      }
      // Sharded: transformers' index format, every tensor in the shard the index names.
      const got = folderTensors(sharded);
      expect(strip(got)).toEqual(strip(want));
      const index = JSON.parse(readFileSync(join(sharded, "model.safetensors.index.json"), "utf8")) as { metadata: { total_size: number }; weight_map: Record<string, string> };
      expect(Object.keys(index).sort()).toEqual(["metadata", "weight_map"]);
      const shards = new Set(Object.values(index.weight_map));
      expect(shards.size).toBeGreaterThan(1);
      for (const f of shards) expect(f).toMatch(new RegExp(`^model-\\d{5}-of-${String(shards.size).padStart(5, "0")}\\.safetensors$`));
      expect(Object.keys(index.weight_map).sort()).toEqual(Object.keys(want).sort());
      for (const [k, t] of Object.entries(got)) expect(index.weight_map[k], k).toBe(t.file);
      expect(index.metadata.total_size).toBe(Object.values(got).reduce((s, t) => s + t.bytes, 0));
      expect(existsSync(join(sharded, "model.safetensors"))).toBe(false);
    });
  }
});

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { decodeModel } from "../src/index";
import { exportCommand, parseExportArgs, runCommand } from "../src/cli/commands";
import { HF, session } from "./ort";

const tmp = mkdtempSync(join(tmpdir(), "tessera-onnx-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("tessera-onnx export", () => {
  it("writes prefill and decode graphs ORT loads", async () => {
    const out = join(tmp, "gpt2", "model.onnx");
    const r = await exportCommand([join(HF, "gpt2"), out]);
    expect(r.code).toBe(0);
    expect(r.report).toMatchObject({ modelType: "gpt2", graph: "prefill", dtype: "float32", opset: 17, outputs: expect.arrayContaining(["logits", "present.0.key"]) });
    const s = await session(readFileSync(out));
    expect(s.inputNames).toEqual(["input_ids", "attention_mask", "position_ids"]);
    await s.release();
    const dec = join(tmp, "llama-decode-f16.onnx");
    const d = await exportCommand([join(HF, "llama"), dec, "--decode", "--dtype", "float16", "--opset=20"]);
    expect(d.report).toMatchObject({ modelType: "llama", graph: "decode", dtype: "float16", opset: 20 });
    const m = decodeModel(readFileSync(dec));
    expect(m.opsetImport[0].version).toBe(20);
    expect(m.graph.inputs.map((i) => i.name)).toContain("past_key_values.1.value");
    const q = join(tmp, "llama-int4.onnx");
    const i4 = await exportCommand([join(HF, "llama"), q, "--dtype", "int4", "--block-size", "16"]);
    expect(i4.report).toMatchObject({ dtype: "int4", matMulNBits: 14 });
    const qs = await session(readFileSync(q));
    expect(qs.outputNames[0]).toBe("logits");
    await qs.release();
  });

  it("strict arguments: errors name the option", async () => {
    const dir = join(HF, "gpt2");
    expect(() => parseExportArgs([dir])).toThrow(/needs a model folder and an output file/);
    expect(() => parseExportArgs([dir, "a.onnx", "b.onnx"])).toThrow(/unexpected argument 'b.onnx'/);
    expect(() => parseExportArgs([dir, "a.onnx", "--dtype", "bfloat16"])).toThrow(/--dtype must be float32, float16 or int4, got 'bfloat16'/);
    expect(() => parseExportArgs([dir, "a.onnx", "--block-size", "32"])).toThrow(/--block-size applies to --dtype int4 only/);
    expect(() => parseExportArgs([dir, "a.onnx", "--dtype", "int4", "--block-size", "24"])).toThrow(/--block-size must be a power of two >= 16, got '24'/);
    expect(() => parseExportArgs([dir, "a.onnx", "--dtype"])).toThrow(/--dtype needs a value/);
    expect(() => parseExportArgs([dir, "a.onnx", "--decode", "--decode"])).toThrow(/--decode is given twice/);
    expect(() => parseExportArgs([dir, "a.onnx", "--decode=yes"])).toThrow(/--decode takes no value/);
    expect(() => parseExportArgs([dir, "a.onnx", "--opset", "16"])).toThrow(/--opset must be an integer in \[17, 21\], got '16'/);
    expect(() => parseExportArgs([dir, "a.onnx", "--fast"])).toThrow(/unknown option --fast/);
    expect(() => parseExportArgs([tmp, "a.onnx"])).toThrow(/has no config.json/);
    await expect(runCommand(["import"])).rejects.toThrow(/unknown command 'import'/);
    expect((await runCommand([])).code).toBe(2);
  });

  it("refuses Mamba naming the layer, and writes nothing", async () => {
    const out = join(tmp, "mamba.onnx");
    await expect(exportCommand([join(HF, "mamba"), out])).rejects.toThrow(/layer 'blocks\.0\.mixer' is a MambaMixer/);
    expect(existsSync(out)).toBe(false);
  });

  it("the built bin runs (exit 0 with a JSON report; 2 with the message on errors)", () => {
    const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "tessera-onnx.js");
    if (!existsSync(join(dirname(cli), "..", "dist", "cli.js"))) return; // built by turbo before tests
    const out = join(tmp, "bert.onnx");
    const report = JSON.parse(execFileSync("node", [cli, "export", join(HF, "bert"), out]).toString());
    expect(report).toMatchObject({ task: "masked-lm", inputs: ["input_ids", "attention_mask", "token_type_ids"] });
    const bad = spawnSync("node", [cli, "export", join(HF, "mamba"), out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.toString()).toMatch(/exportOnnx: layer 'blocks\.0\.mixer' is a MambaMixer/);
  });
});

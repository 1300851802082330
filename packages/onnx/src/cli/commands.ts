/**
 * The tessera-onnx command (strict parsing: unknown, repeated or valueless options are usage
 * errors that name the option):
 *   tessera-onnx export DIR OUT.onnx [--decode] [--dtype float32|float16|int4] [--block-size N] [--opset 17..21]
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../errors";
import { exportPretrained } from "../node";

export interface CommandResult {
  code: number;
  report: Record<string, unknown>;
}

export const USAGE = `usage:
  tessera-onnx export DIR OUT.onnx [--decode] [--dtype float32|float16|int4] [--block-size N] [--opset 17..21]
      export the save_pretrained folder DIR (gpt2, llama, mistral, qwen2, bert, vit) as ONNX:
      the prefill graph, or with --decode the KV-cache graph (past_key_values.* inputs);
      --dtype float16 stores the weights as float16 (computed in float32); --dtype int4 stores
      the blocks' projections as symmetric int4 in groups of --block-size (default 32) along
      the input axis, as ONNX Runtime's com.microsoft MatMulNBits`;

const FLAGS = ["decode"];
const VALUED = ["dtype", "opset", "block-size"];

export interface ExportArgs {
  dir: string;
  out: string;
  decode: boolean;
  dtype: "float32" | "float16" | "int4";
  /** --block-size (dtype int4 only). */
  blockSize?: number;
  opset: number;
}

export function parseExportArgs(argv: readonly string[]): ExportArgs {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!FLAGS.includes(name) && !VALUED.includes(name)) fail("tessera-onnx", `unknown option --${name} (options: ${[...FLAGS, ...VALUED].map((k) => `--${k}`).join(", ")})`);
    if (flags.has(name)) fail("tessera-onnx", `option --${name} is given twice`);
    if (FLAGS.includes(name)) {
      if (eq >= 0) fail("tessera-onnx", `option --${name} takes no value`);
      flags.set(name, "");
      continue;
    }
    const value = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) fail("tessera-onnx", `option --${name} needs a value`);
    flags.set(name, value);
  }
  if (positional.length < 2) fail("tessera-onnx", "export needs a model folder and an output file: tessera-onnx export DIR OUT.onnx");
  if (positional.length > 2) fail("tessera-onnx", `unexpected argument '${positional[2]}' (options start with --)`);
  const [dir, out] = positional;
  if (!existsSync(join(dir, "config.json"))) fail("tessera-onnx", `'${dir}' has no config.json: not a save_pretrained folder`);
  const dtype = flags.get("dtype") ?? "float32";
  if (dtype !== "float32" && dtype !== "float16" && dtype !== "int4") fail("tessera-onnx", `--dtype must be float32, float16 or int4, got '${dtype}'`);
  const o = flags.get("opset") ?? "17";
  if (!/^\d+$/.test(o) || Number(o) < 17 || Number(o) > 21) fail("tessera-onnx", `--opset must be an integer in [17, 21], got '${o}'`);
  const bs = flags.get("block-size");
  if (bs !== undefined && dtype !== "int4") fail("tessera-onnx", `--block-size applies to --dtype int4 only`);
  if (bs !== undefined && !(/^\d+$/.test(bs) && Number(bs) >= 16 && (Number(bs) & (Number(bs) - 1)) === 0))
    fail("tessera-onnx", `--block-size must be a power of two >= 16, got '${bs}'`);
  return { dir, out, decode: flags.has("decode"), dtype, opset: Number(o), ...(bs !== undefined ? { blockSize: Number(bs) } : {}) };
}

export async function exportCommand(argv: readonly string[]): Promise<CommandResult> {
  const a = parseExportArgs(argv);
  const e = await exportPretrained(a.dir, a.out, { decode: a.decode, dtype: a.dtype, opset: a.opset, ...(a.blockSize !== undefined ? { blockSize: a.blockSize } : {}) });
  return {
    code: 0,
    report: {
      out: a.out,
      modelType: e.modelType,
      task: e.task,
      graph: a.decode ? "decode" : "prefill",
      dtype: a.dtype,
      ...(e.quantizedLayers.length ? { matMulNBits: e.quantizedLayers.length } : {}),
      opset: e.opset,
      bytes: e.bytes.length,
      inputs: e.inputs.map((i) => i.name),
      outputs: e.outputs.map((o) => o.name),
    },
  };
}

export async function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [cmd, ...rest] = argv;
  if (cmd === "export") return exportCommand(rest);
  if (!cmd || cmd === "help" || cmd === "--help") return { code: cmd ? 0 : 2, report: { usage: USAGE } };
  return fail("tessera-onnx", `unknown command '${cmd}' (commands: export)`);
}

/**
 * The tessera-onnx command (strict parsing: unknown, repeated or valueless options are usage
 * errors that name the option):
 *   tessera-onnx export DIR OUT.onnx [--decode] [--dtype float32|float16] [--opset 17..21]
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
  tessera-onnx export DIR OUT.onnx [--decode] [--dtype float32|float16] [--opset 17..21]
      export the save_pretrained folder DIR (gpt2, llama, mistral, qwen2, bert, vit) as ONNX:
      the prefill graph, or with --decode the KV-cache graph (past_key_values.* inputs);
      --dtype float16 stores the weights as float16 (computed in float32)`;

const FLAGS = ["decode"];
const VALUED = ["dtype", "opset"];

export function parseExportArgs(argv: readonly string[]): { dir: string; out: string; decode: boolean; dtype: "float32" | "float16"; opset: number } {
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
  if (dtype !== "float32" && dtype !== "float16") fail("tessera-onnx", `--dtype must be float32 or float16, got '${dtype}'`);
  const o = flags.get("opset") ?? "17";
  if (!/^\d+$/.test(o) || Number(o) < 17 || Number(o) > 21) fail("tessera-onnx", `--opset must be an integer in [17, 21], got '${o}'`);
  return { dir, out, decode: flags.has("decode"), dtype, opset: Number(o) };
}

export async function exportCommand(argv: readonly string[]): Promise<CommandResult> {
  const a = parseExportArgs(argv);
  const e = await exportPretrained(a.dir, a.out, { decode: a.decode, dtype: a.dtype, opset: a.opset });
  return {
    code: 0,
    report: {
      out: a.out,
      modelType: e.modelType,
      task: e.task,
      graph: a.decode ? "decode" : "prefill",
      dtype: a.dtype,
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

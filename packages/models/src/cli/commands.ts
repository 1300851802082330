/**
 * The tessera commands. Each returns its JSON report and exit code, so tests call them directly.
 *   tessera check DIR [--backend B] [--tolerance 1e-4]
 *   tessera generate DIR --ids 1,2,3 --max-new-tokens N [--temperature T] [--top-k K] [--top-p P] [--seed S] [--eos ID] [--backend B]
 *   tessera info DIR
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { dispose, type Tensor } from "@tessera/tensor";
import { loadSafetensors } from "@tessera/tensor/node";
import { checkAgainstReference } from "../check";
import { fail } from "../errors";
import { generate } from "../generate/generate";
import { fromPretrained } from "../hf/registry";
import { readPretrainedFolder } from "../node";
import { idsFlag, numberFlag, parseArgs } from "./args";
import { startBackend } from "./backend";

export interface CommandResult {
  code: number;
  report: Record<string, unknown>;
}

export const USAGE = `usage:
  tessera check DIR [--backend cpu|webgpu] [--tolerance 1e-4]
      run the model in DIR on DIR/expected.safetensors; exit 0 when logits and hidden states
      are within the tolerance and greedy generation matches
  tessera generate DIR --ids 1,2,3 --max-new-tokens N [--temperature T] [--top-k K] [--top-p P]
      [--seed S] [--eos ID] [--backend cpu|webgpu]
  tessera info DIR
      architecture, parameter count, dtype and memory of a save_pretrained folder`;

function dirArg(positional: string[], cmd: string): string {
  const dir = positional[0];
  if (!dir) fail("tessera", `${cmd} needs a model folder (a save_pretrained directory)`);
  if (!existsSync(join(dir, "config.json"))) fail("tessera", `'${dir}' has no config.json: not a save_pretrained folder`);
  return dir;
}

async function load(dir: string, backend: string) {
  await startBackend(backend);
  const { config, weights, files } = readPretrainedFolder(dir);
  try {
    return fromPretrained(config, weights, { backend, source: files.join(", ") });
  } finally {
    dispose(Object.values(weights));
  }
}

export async function check(argv: string[]): Promise<CommandResult> {
  const a = parseArgs(argv, ["backend", "tolerance"]);
  const dir = dirArg(a.positional, "check");
  const backend = a.flags.get("backend") ?? "cpu";
  const expectedPath = join(dir, "expected.safetensors");
  if (!existsSync(expectedPath)) fail("tessera", `check needs ${expectedPath} (reference inputs and outputs)`);
  const p = await load(dir, backend);
  const expected = loadSafetensors(expectedPath).tensors;
  try {
    const r = await checkAgainstReference(p, expected, { backend, tolerance: numberFlag(a, "tolerance", { min: 0, above: true }) });
    return { code: r.pass ? 0 : 1, report: { dir, ...r } };
  } finally {
    dispose(Object.values(expected));
    p.model.dispose();
  }
}

export async function generateCommand(argv: string[]): Promise<CommandResult> {
  const a = parseArgs(argv, ["backend", "ids", "max-new-tokens", "temperature", "top-k", "top-p", "seed", "eos"]);
  const dir = dirArg(a.positional, "generate");
  const ids = idsFlag(a, "ids");
  const maxNewTokens = numberFlag(a, "max-new-tokens", { integer: true, min: 1 }) ?? fail("tessera", "--max-new-tokens is required");
  const sampling = {
    temperature: numberFlag(a, "temperature", { min: 0, above: true }),
    topK: numberFlag(a, "top-k", { integer: true, min: 1 }),
    topP: numberFlag(a, "top-p", { min: 0, above: true, max: 1 }),
    seed: numberFlag(a, "seed", { integer: true, min: 0, max: 2 ** 32 - 1 }),
    eosTokenId: numberFlag(a, "eos", { integer: true, min: 0 }) ?? null,
  };
  const p = await load(dir, a.flags.get("backend") ?? "cpu");
  const generated: number[] = [];
  const t0 = performance.now();
  try {
    if (p.task !== "causal-lm") fail("tessera", `generate needs a causal language model; ${p.modelType} is a ${p.task} model`);
    const r = await generate(p.model, [ids], { maxNewTokens, ...sampling, onToken: (tok) => void generated.push(tok) });
    const ms = performance.now() - t0;
    return {
      code: 0,
      report: {
        modelType: p.modelType,
        prompt: ids,
        generated: r.generated[0],
        sequence: r.sequences[0],
        stopped: r.stopped,
        ms: Math.round(ms),
        tokensPerSecond: Math.round((r.generated[0].length / ms) * 1e4) / 10,
      },
    };
  } catch (e) {
    // Generation that fails part-way (past the context window, say) still reports what it made.
    if (!generated.length) throw e;
    return {
      code: 1,
      report: {
        modelType: p.modelType,
        prompt: ids,
        generated,
        sequence: [...ids, ...generated],
        stopped: "error",
        error: (e as Error).message,
        ms: Math.round(performance.now() - t0),
      },
    };
  } finally {
    p.model.dispose();
  }
}

export async function info(argv: string[]): Promise<CommandResult> {
  const a = parseArgs(argv, []);
  const dir = dirArg(a.positional, "info");
  const { config, weights, files } = readPretrainedFolder(dir);
  try {
    const dtypes = [...new Set(Object.values(weights).map((t: Tensor) => t.dtype))];
    const fileBytes = Object.values(weights).reduce((s, t) => s + t.size * bytesPer(t.dtype), 0);
    const p = fromPretrained(config, weights, { source: files.join(", ") });
    const params = p.model.parameters().reduce((s, t) => s + t.size, 0);
    p.model.dispose();
    const arch = Array.isArray(config.architectures) ? config.architectures[0] : p.modelType;
    return {
      code: 0,
      report: {
        dir,
        modelType: p.modelType,
        architecture: arch,
        task: p.task,
        parameters: params,
        fileDtypes: dtypes,
        files,
        fileBytes,
        float32Bytes: params * 4,
        tensors: Object.keys(weights).length,
      },
    };
  } finally {
    dispose(Object.values(weights));
  }
}

function bytesPer(dtype: string): number {
  return dtype === "float16" || dtype === "bfloat16" || dtype === "int16"
    ? 2
    : dtype === "int8" || dtype === "uint8" || dtype === "bool"
      ? 1
      : dtype === "float64" || dtype === "int64"
        ? 8
        : 4;
}

export async function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [cmd, ...rest] = argv;
  if (cmd === "check") return check(rest);
  if (cmd === "generate") return generateCommand(rest);
  if (cmd === "info") return info(rest);
  if (!cmd || cmd === "help" || cmd === "--help") return { code: cmd ? 0 : 2, report: { usage: USAGE } };
  if (cmd === "export")
    fail(
      "tessera",
      "ONNX export is in @tessera/onnx (which depends on this package): install it and run `tessera-onnx export DIR OUT.onnx [--decode] [--dtype float32|float16|int4]` (in this repository: `npm run tessera -- export DIR OUT.onnx`)",
    );
  return fail("tessera", `unknown command '${cmd}' (commands: check, generate, info)`);
}

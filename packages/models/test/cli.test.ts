/**
 * The tessera CLI: commands called in-process (reports and exit codes), and the built bin run
 * as a user runs it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCommand } from "../src/cli/commands";
import { hfDir } from "./helpers";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli.js");

describe("tessera CLI", () => {
  it("check passes on a fixture (exit 0) and fails under an impossible tolerance (exit 1)", async () => {
    const ok = await runCommand(["check", hfDir("llama")]);
    expect(ok.code).toBe(0);
    expect(ok.report).toMatchObject({ modelType: "llama", backend: "cpu", generationMatches: true, pass: true });
    const strict = await runCommand(["check", hfDir("gpt2"), "--tolerance", "1e-9"]);
    expect(strict.code).toBe(1);
    expect(strict.report.pass).toBe(false);
  });

  it("info and generate report JSON", async () => {
    const info = await runCommand(["info", hfDir("mamba2")]);
    expect(info.report).toMatchObject({ modelType: "mamba2", architecture: "Mamba2ForCausalLM", task: "causal-lm", fileDtypes: ["float32"], files: ["model.safetensors"] });
    expect(info.report.parameters).toBe((info.report.fileBytes as number) / 4);
    const g = await runCommand(["generate", hfDir("gpt2"), "--ids", "111,113,15,6,22", "--max-new-tokens", "8"]);
    expect(g.report.sequence).toEqual([111, 113, 15, 6, 22, 98, 98, 98, 89, 15, 49, 49, 49]); // the fixture's greedy output
    const s = await runCommand(["generate", hfDir("gpt2"), "--ids", "1,2", "--max-new-tokens", "4", "--temperature", "0.9", "--top-k", "10", "--top-p", "0.9", "--seed", "4"]);
    expect((s.report.generated as number[]).length).toBe(4);
  });

  it("usage errors name the problem", async () => {
    await expect(runCommand(["frobnicate"])).rejects.toThrow(/unknown command 'frobnicate' \(commands: check, generate, info\)/);
    await expect(runCommand(["check", hfDir("gpt2"), "--backnd", "cpu"])).rejects.toThrow(/unknown option --backnd/);
    await expect(runCommand(["generate", hfDir("gpt2"), "--max-new-tokens", "2"])).rejects.toThrow(/--ids is required/);
    await expect(runCommand(["generate", hfDir("gpt2"), "--ids", "1,x", "--max-new-tokens", "2"])).rejects.toThrow(/--ids must be comma-separated non-negative integers/);
    await expect(runCommand(["info", "/nonexistent"])).rejects.toThrow(/'\/nonexistent' has no config.json/);
    await expect(runCommand(["generate", hfDir("vit"), "--ids", "1", "--max-new-tokens", "1"])).rejects.toThrow(
      /generate needs a causal language model; vit is a image-classification model/,
    );
    expect((await runCommand([])).code).toBe(2);
  });

  it("strict arguments: malformed numbers, ids, extra positionals and repeated options are usage errors", async () => {
    const dir = hfDir("gpt2");
    const gen = (...extra: string[]) => runCommand(["generate", dir, "--max-new-tokens", "2", ...extra]);
    for (const ids of ["1,,2", "0x10", "5,", ",5", "1.5", "-1", "1e2", " ", "1;2"]) {
      await expect(gen("--ids", ids), ids).rejects.toThrow(/^tessera: --ids must be comma-separated non-negative integers, got '.*' \(entry \d+ is '.*'\)$/);
    }
    await expect(gen("--ids", "1", "--seed", "1.7")).rejects.toThrow("tessera: --seed must be an integer in [0, 4294967295], got '1.7'");
    await expect(gen("--ids", "1", "--eos", "2.5")).rejects.toThrow("tessera: --eos must be an integer >= 0, got '2.5'");
    await expect(gen("--ids", "1", "--temperature", "NaN")).rejects.toThrow("tessera: --temperature must be a number > 0, got 'NaN'");
    await expect(gen("--ids", "1", "--temperature", "0x1")).rejects.toThrow(/--temperature must be a number > 0, got '0x1'/);
    await expect(gen("--ids", "1", "--top-p", "1.5")).rejects.toThrow("tessera: --top-p must be a number in (0, 1], got '1.5'");
    await expect(gen("--ids", "1", "--top-k", "0")).rejects.toThrow("tessera: --top-k must be an integer >= 1, got '0'");
    await expect(runCommand(["generate", dir, "--ids", "1", "--max-new-tokens", "2.5"])).rejects.toThrow("tessera: --max-new-tokens must be an integer >= 1, got '2.5'");
    await expect(runCommand(["check", dir, "--tolerance", "-1"])).rejects.toThrow("tessera: --tolerance must be a number > 0, got '-1'");
    await expect(runCommand(["check", dir, "--tolerance", ""])).rejects.toThrow(/--tolerance must be a number > 0, got ''/);
    await expect(runCommand(["check", dir, "extra"])).rejects.toThrow("tessera: unexpected argument 'extra' (one model folder is expected; options start with --)");
    await expect(runCommand(["info", dir, dir])).rejects.toThrow(/unexpected argument/);
    await expect(runCommand(["check", dir, "--backend", "cpu", "--backend", "cpu"])).rejects.toThrow("tessera: option --backend is given twice");
    await expect(runCommand(["check", dir, "--backend", "--tolerance", "1"])).rejects.toThrow("tessera: option --backend needs a value");
    await expect(runCommand(["check", dir, "--backend", "tpu"])).rejects.toThrow(/unknown backend 'tpu'/);
    // Accepted forms: --name=value, exponents, a leading +.
    expect((await runCommand(["check", dir, "--tolerance=1e-4"])).code).toBe(0);
  });

  it("generation that fails part-way reports the tokens it made (exit 1)", async () => {
    // The fixture's context is 64 positions: 60 prompt tokens + 10 new ones run past it.
    const ids = Array.from({ length: 60 }, (_, i) => i % 100).join(",");
    const r = await runCommand(["generate", hfDir("gpt2"), "--ids", ids, "--max-new-tokens", "10"]);
    expect(r.code).toBe(1);
    expect(r.report.stopped).toBe("error");
    expect(r.report.error).toMatch(/position|context|64/);
    expect((r.report.generated as number[]).length).toBeGreaterThan(0);
    expect((r.report.sequence as number[]).slice(0, 60)).toEqual(ids.split(",").map(Number));
  });

  it("the built bin: JSON on stdout, exit 0 on a pass; a message and exit 2 on a usage error", () => {
    const out = execFileSync(process.execPath, [bin, "check", hfDir("mamba")], { encoding: "utf8" });
    expect(JSON.parse(out)).toMatchObject({ modelType: "mamba", pass: true });
    const bad = spawnSync(process.execPath, [bin, "check"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/check needs a model folder/);
  });
});

/**
 * Without the addon (no C compiler at install, or a broken build) the package says why and
 * Tessera's cpu backend keeps its WebAssembly kernels: run in a child process whose
 * TESSERA_NATIVE_PATH names a missing file, and one naming a file that is not an addon.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");
const program = `
import { nativeInfo, enableNative } from ${JSON.stringify(dist)};
import { matmul, tensor, kernelStats } from "@tessera/tensor";
const info = nativeInfo();
let error = "";
try { enableNative(); } catch (e) { error = e.name + ": " + e.message; }
const y = matmul(tensor([[1, 2]]), tensor([[3], [4]])).dataSync()[0];
console.log(JSON.stringify({ available: info.available, reason: info.reason, error, y, native: kernelStats().kernel["cpuGemm/cpu"] ?? 0 }));
`;

function run(path: string): { available: boolean; reason: string; error: string; y: number; native: number } {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", program], {
    env: { ...process.env, TESSERA_NATIVE_PATH: path },
    cwd: join(dirname(fileURLToPath(import.meta.url)), ".."),
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").pop() as string);
}

describe("without the addon", () => {
  it("a missing build: unavailable with the path and how to build it; enabling throws; matmul still works", () => {
    const r = run("/nonexistent/tessera_native.node");
    expect(r.available).toBe(false);
    expect(r.reason).toMatch(/\/nonexistent\/tessera_native.node does not exist.*build-native\.mjs/);
    expect(r.error).toMatch(/TesseraError: enableNative: the native addon is not available/);
    expect(r.y).toBe(11);
    expect(r.native).toBe(0);
  });

  it("a file that is not an addon: unavailable with the loader's message", () => {
    const bad = join(mkdtempSync(join(tmpdir(), "tessera-native-")), "bad.node");
    writeFileSync(bad, "not a shared object");
    const r = run(bad);
    expect(r.available).toBe(false);
    expect(r.reason).toMatch(/bad\.node did not load: /);
    expect(r.error).toMatch(/not available/);
  });
});

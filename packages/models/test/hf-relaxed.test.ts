/**
 * The Hugging Face fixtures with the cpu backend's relaxed-SIMD kernels (fused multiply-add in the
 * GEMM/GEMV products and the flash attention): Node 20 has relaxed SIMD only behind
 * --experimental-wasm-relaxed-simd, so hf.test.ts runs again in a Node (and vitest workers)
 * started with that flag, where the relaxed builds must load and every model must still reproduce
 * PyTorch's logits and hidden states within 1e-4 and its greedy generation.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const FLAG = "--experimental-wasm-relaxed-simd";

it("node --experimental-wasm-relaxed-simd: hf.test.ts passes with the relaxed builds", () => {
  const out = execFileSync(process.execPath, [FLAG, vitest, "run", `--execArgv=${FLAG}`, "test/hf.test.ts"], {
    cwd: pkg,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", TESSERA_EXPECT_RELAXED_SIMD: "1" },
  });
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

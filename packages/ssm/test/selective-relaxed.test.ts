/**
 * The relaxed-SIMD build of the selective scan's WASM kernels (fused multiply-adds in the recurrence, the softplus and exp) in CI: Node 20 has relaxed SIMD only behind
 * --experimental-wasm-relaxed-simd, so selective.test.ts runs again in a Node (and vitest workers) started
 * with that flag, where the relaxed build must load (TESSERA_EXPECT_RELAXED_SIMD=1) and meet the
 * same bounds as the SIMD128 build.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const FLAG = "--experimental-wasm-relaxed-simd";

it("node --experimental-wasm-relaxed-simd: the relaxed build loads and selective.test.ts passes with it", () => {
  const out = execFileSync(process.execPath, [FLAG, vitest, "run", `--execArgv=${FLAG}`, "test/selective.test.ts"], {
    cwd: pkg,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", TESSERA_EXPECT_RELAXED_SIMD: "1" },
  });
  expect(out).toMatch(/Tests\s+\d+ passed/);
  expect(out).not.toMatch(/failed/);
}, 300_000);

/** The WASM bytes embedded in src/backend/cpu/wasm/binary.ts are what wasm/gemm.ts compiles to. */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

it("the embedded WASM is up to date with wasm/gemm.ts (node scripts/build-wasm.mjs)", () => {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
  const out = execFileSync("node", [join(pkg, "scripts", "build-wasm.mjs"), "--check"], { encoding: "utf8" });
  expect(out).toContain("up to date");
}, 60_000);

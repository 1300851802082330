/** The embedded flash-attention WASM: up to date with wasm/flash.ts, in its SIMD128 and relaxed-SIMD builds. */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { FLASH_WASM_PLAIN, FLASH_WASM_RELAXED_PLAIN, FLASH_WASM_RELAXED_SHARED, FLASH_WASM_SHARED } from "../src/flash-wasm/binary";

it("the embedded WASM (all four builds) is up to date with wasm/flash.ts (node scripts/build-wasm.mjs)", () => {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
  const out = execFileSync("node", [join(pkg, "scripts", "build-wasm.mjs"), "--check"], { encoding: "utf8" });
  expect(out).toContain("up to date");
}, 240_000);

/** How many f32x4.relaxed_madd instructions (0xfd 0x85 0x02) the module's bytes hold (an upper bound: byte pattern). */
const relaxedMadds = (b64: string) => {
  const b = Buffer.from(b64, "base64");
  let n = 0;
  for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) n++;
  return n;
};

it("the relaxed builds use f32x4.relaxed_madd, the SIMD128 builds validate without relaxed SIMD", () => {
  for (const b64 of [FLASH_WASM_RELAXED_PLAIN, FLASH_WASM_RELAXED_SHARED]) expect(relaxedMadds(b64)).toBeGreaterThan(20);
  for (const b64 of [FLASH_WASM_PLAIN, FLASH_WASM_SHARED]) {
    expect(relaxedMadds(b64)).toBe(0);
    expect(WebAssembly.validate(Buffer.from(b64, "base64"))).toBe(true);
  }
});

/** The embedded WASM: up to date with wasm/*.ts, and its data stays below the memory we use. */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { KERNELS_WASM_PLAIN, KERNELS_WASM_SHARED } from "../src/backend/cpu/wasm/binary";
import { CTL } from "../src/backend/cpu/wasm/threads";

it("the embedded WASM is up to date with wasm/*.ts (node scripts/build-wasm.mjs)", () => {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
  const out = execFileSync("node", [join(pkg, "scripts", "build-wasm.mjs"), "--check"], { encoding: "utf8" });
  expect(out).toContain("up to date");
}, 60_000);

/** [offset, end) of every active data segment (section 11) of a module. */
function dataSegments(b: Uint8Array): [number, number][] {
  let p = 8;
  const leb = (): number => {
    let r = 0;
    let s = 0;
    let x: number;
    do {
      x = b[p++];
      r |= (x & 0x7f) << s;
      s += 7;
    } while (x & 0x80);
    return r;
  };
  const out: [number, number][] = [];
  while (p < b.length) {
    const id = b[p++];
    const size = leb();
    const end = p + size;
    if (id === 11) {
      for (let n = leb(), i = 0; i < n; i++) {
        const flags = leb();
        if (flags !== 0) throw new Error(`unexpected data segment flags ${flags}`);
        expect(b[p++]).toBe(0x41); // i32.const
        const off = leb();
        expect(b[p++]).toBe(0x0b); // end
        const len = leb();
        p += len;
        out.push([off, off + len]);
      }
    }
    p = end;
  }
  return out;
}

it("the module's data segments end below the thread control block (instantiation rewrites them)", () => {
  for (const b64 of [KERNELS_WASM_PLAIN, KERNELS_WASM_SHARED]) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    for (const [, end] of dataSegments(bytes)) expect(end).toBeLessThanOrEqual(CTL);
  }
});
